"""Datasets as the papers use them.

``load(name)`` gives a dataset's training set (optionally long-tailed) and the seeded
validation/test halves of its test set; ``split_labeled`` makes the labeled / validation /
unlabeled split of distillation with unlabeled examples; ``training_pipeline`` and
``evaluation_pipeline`` batch a dataset into ``(x, targets)`` with per-example arrays aligned
by index.
"""

from tf_robust_distill.data.augment import AUGMENTATIONS, crop_flip, flip_translate, translate
from tf_robust_distill.data.datasets import DATASET_NAMES, load
from tf_robust_distill.data.halves import validation_test_halves
from tf_robust_distill.data.input_pipeline import evaluation_pipeline, training_pipeline
from tf_robust_distill.data.labeled_split import LabeledSplit, split_labeled
from tf_robust_distill.data.long_tail import long_tail_counts, long_tail_positions
from tf_robust_distill.data.npz import read_npz_arrays
from tf_robust_distill.data.selection import select_positions
from tf_robust_distill.data.splits import Splits
from tf_robust_distill.data.synthetic import GaussianMixture, gaussian_mixture_posterior
from tf_robust_distill.data.teacher_features import TeacherFeatures
from tf_robust_distill.data.teacher_labels import TeacherLabels
from tf_robust_distill.data.topk_labels import TopKTeacherLabels
from tf_robust_distill.data.topk_rows import TopKRows

__all__ = [
    "AUGMENTATIONS",
    "DATASET_NAMES",
    "GaussianMixture",
    "LabeledSplit",
    "Splits",
    "TeacherFeatures",
    "TeacherLabels",
    "TopKRows",
    "TopKTeacherLabels",
    "crop_flip",
    "evaluation_pipeline",
    "flip_translate",
    "gaussian_mixture_posterior",
    "load",
    "long_tail_counts",
    "long_tail_positions",
    "read_npz_arrays",
    "select_positions",
    "split_labeled",
    "training_pipeline",
    "translate",
    "validation_test_halves",
]
