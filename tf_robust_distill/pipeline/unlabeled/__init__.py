"""Distillation with unlabeled examples: a labeled set A, a validation set V, an unlabeled set U.

The protocol of Weighted Distillation with Unlabeled Examples (Iliopoulos et al., NeurIPS
2022: §3.1.1, Algorithm 1, App. C.1) and of SLaM (Kontonis et al., NeurIPS 2023: §4.1,
Algorithm 1, App. D.1):

1. The first N training examples form A. A teacher and a student are trained on A with
   the cross-entropy on the true labels, once (`labeled_stage`).
2. The teacher labels the whole training set in one bulk inference, cached beside it;
   its "features" layer too, once, when an objective needs it (VID).
3. Each trial splits the rest of the training set at random (the trial number is the
   seed) into V, labeled and never seen by the teacher, and U (`trial_split`). The
   student trains on A ∪ V ∪ U (A ∪ U without V, optionally): true labels on A and V,
   the teacher's labels on U (`training_set.StudentTrainingSet`, `trial.distill`).
4. The student is evaluated on the test set (`run_trial`), after every epoch too: SLaM
   §4.2 reports the best test accuracy over the epochs.

A hyperparameter search run (``unlabeled.holdout_size`` set) also holds a random part H
of V out of the training set and of the estimators, and scores the student on it
(`holdout`); `search` chooses a student's options on H (issue 15).

The student's objective is ``config.student.objective`` (an ``unlabeled_student`` name of
the objective registry) with ``config.student.objective_kw``; t_B and soft/hard labels
are ``config.student.temperature`` and ``hard_labels``; the rest lives in
``config.unlabeled`` (configs/unlabeled_distill.py documents each).
"""

from tf_robust_distill import data
from tf_robust_distill.pipeline import config_checks
from tf_robust_distill.pipeline.context import prepare as prepare_context
from tf_robust_distill.pipeline.unlabeled.labeled_stage import (
    LabeledStage,
    labeled_stage,
    trial_split,
)
from tf_robust_distill.pipeline.unlabeled.settings import check_settings
from tf_robust_distill.pipeline.unlabeled.training_set import StudentTrainingSet
from tf_robust_distill.pipeline.unlabeled.trial import distill, run_trial

SETS = ("labeled", "validation", "unlabeled")


def prepare(config, num_labeled_values=None):
    """Check the settings, pick the strategy, seed, load the data and check the split sizes.

    Args:
      num_labeled_values: every N the caller will use (a grid's sizes); default
        ``[config.unlabeled.num_labeled]``. Each must leave room for V of at least 2
        examples (SLaM's isotonic fit, the k-NN weights) and a non-empty U, and A must
        fill a batch when ``train.drop_remainder`` is set.

    Returns:
      a `Context`; nothing is written.
    """
    check_settings(config)
    context = prepare_context(config)
    config_checks.check_worst_k(config.eval.worst_k, context.splits.num_classes)
    config_checks.check_teacher_top_k(config.student, context.splits.num_classes)
    for num_labeled in num_labeled_values or [config.unlabeled.num_labeled]:
        split = data.split_labeled(
            context.splits.train, num_labeled, config.unlabeled.validation_size, 0
        )
        check_split_sizes(config, split)
    return context


def check_split_sizes(config, split):
    """Raise if V (less the held-out H of a search run) has fewer than 2 examples, U none,
    or A no batch with drop_remainder."""
    sizes = {name: len(getattr(split, f"{name}_positions")) for name in SETS}
    sizes["validation"] -= config.unlabeled.holdout_size or 0
    if sizes["validation"] < 2 or sizes["unlabeled"] < 1:
        raise ValueError(
            f"A of {sizes['labeled']} examples leaves V = {sizes['validation']} and "
            f"U = {sizes['unlabeled']} examples; the job needs at least 2 validation examples "
            "(unlabeled.validation_size) and at least one unlabeled example: lower "
            "unlabeled.num_labeled or unlabeled.validation_size"
        )
    config_checks.check_steps(config.train, sizes["labeled"], "the labeled set A")


__all__ = [
    "LabeledStage",
    "StudentTrainingSet",
    "check_settings",
    "distill",
    "labeled_stage",
    "prepare",
    "run_trial",
    "trial_split",
]
