"""The labeled / validation / unlabeled split of distillation with unlabeled examples."""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.data.selection import num_examples, select_positions


@dataclasses.dataclass(frozen=True, eq=False)
class LabeledSplit:
    """A training set split into labeled (A), validation (V) and unlabeled (U) parts.

    Each dataset keeps the elements ``(x, label)`` of the split dataset (the true labels of U
    stay available for evaluation; a student reads teacher labels instead). The position arrays
    are sorted and index the split dataset, e.g. ``splits.train_labels[validation_positions]``.
    """

    labeled: tf.data.Dataset
    validation: tf.data.Dataset
    unlabeled: tf.data.Dataset
    labeled_positions: np.ndarray
    validation_positions: np.ndarray
    unlabeled_positions: np.ndarray


def _labeled_count(num_labeled, size: int) -> int:
    if not checks.is_real(num_labeled):
        raise TypeError(
            f"num_labeled must be an int count or a float fraction in (0, 1); got {num_labeled!r}."
        )
    if checks.is_integer(num_labeled):
        if not 0 < num_labeled < size:
            raise ValueError(f"num_labeled must lie in [1, {size - 1}]; got {num_labeled}.")
        return int(num_labeled)
    if not 0.0 < num_labeled < 1.0:
        raise ValueError(f"a fractional num_labeled must lie in (0, 1); got {num_labeled}.")
    count = int(np.floor(num_labeled * size))
    if count == 0:
        raise ValueError(f"num_labeled={num_labeled} of {size} examples labels no example.")
    return count


def split_labeled(
    dataset: tf.data.Dataset, num_labeled, validation_size: int, trial_seed: int
) -> LabeledSplit:
    """Splits a training set as the unlabeled-distillation papers do.

    Weighted distillation (Iliopoulos et al. 2022, Sec. 3.1) and SLaM (Kontonis et al. 2023,
    Sec. 4.1): the first N training examples form the labeled set A, on which the teacher is
    trained; the rest is split at random, independently in each trial, into a labeled validation
    set V of the given size and the unlabeled set U that the teacher labels.

    Args:
      dataset: finite dataset of (x, label) with known cardinality, e.g. ``Splits.train``.
      num_labeled: N as an int count, or a float fraction in (0, 1) of the dataset
        (N = floor(fraction * size)).
      validation_size: size of V, at least 1 and at most the number of examples after A.
      trial_seed: seed of the trial's random split of the remaining examples.

    Returns:
      A ``LabeledSplit`` with the three datasets and their position arrays.

    Raises:
      ValueError: if N is out of range or ``validation_size`` exceeds what is left after A.
    """
    size = num_examples(dataset)
    count = _labeled_count(num_labeled, size)
    remaining = size - count
    if not checks.is_integer(validation_size):
        raise TypeError(f"validation_size must be an int; got {validation_size!r}.")
    if not 0 < validation_size <= remaining:
        raise ValueError(
            f"validation_size must lie in [1, {remaining}] (the {size} examples minus the "
            f"{count} labeled ones); got {validation_size}."
        )
    rest = np.arange(count, size, dtype=np.int64)
    shuffled = np.random.default_rng(trial_seed).permutation(rest)
    labeled = np.arange(count, dtype=np.int64)
    validation = np.sort(shuffled[:validation_size])
    unlabeled = np.sort(shuffled[validation_size:])
    return LabeledSplit(
        labeled=dataset.take(count),
        validation=select_positions(dataset, validation),
        unlabeled=select_positions(dataset, unlabeled),
        labeled_positions=labeled,
        validation_positions=validation,
        unlabeled_positions=unlabeled,
    )
