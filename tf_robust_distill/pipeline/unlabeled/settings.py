"""Checks of the unlabeled job's config: they read no data and write nothing."""

from tf_robust_distill import checks, estimators
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline.config_checks import check_objective

# Teacher and pre-trained student learn A with the cross-entropy on the true labels.
LABELED_OBJECTIVE = "std"


def check_settings(config):
    """Raise a ValueError for a bad student objective or ``config.unlabeled`` value."""
    if config.teacher.objective != LABELED_OBJECTIVE:
        raise ValueError(
            f"the unlabeled job trains its teacher on A with {LABELED_OBJECTIVE!r}; got "
            f"teacher.objective={config.teacher.objective!r}"
        )
    check_objective(config.student, "student", registry.UNLABELED_STUDENT)
    temperature = config.student.temperature
    if not checks.is_real(temperature):
        raise ValueError(f"student.temperature (t_B) must be a number > 0, got {temperature!r}")
    if not temperature > 0:
        raise ValueError(f"student.temperature (t_B) must be > 0, got {temperature!r}")
    settings = config.unlabeled
    if settings.labeled_temperature is not None and not settings.labeled_temperature > 0:
        raise ValueError(
            "labeled_temperature (t_A) must be None (true labels on A) or > 0, got "
            f"{settings.labeled_temperature!r}"
        )
    every = settings.weights_every_n_epochs
    if every is not None and (not checks.is_integer(every) or every < 1):
        raise ValueError(f"weights_every_n_epochs must be None or an integer >= 1, got {every!r}")
    if settings.weights_confidence not in estimators.knn_weights.CONFIDENCES:
        raise ValueError(
            f"weights_confidence must be one of {sorted(estimators.knn_weights.CONFIDENCES)}, "
            f"got {settings.weights_confidence!r}"
        )
    estimators.TeacherAccuracyEstimator(
        settings.slam_lower_bound, settings.slam_threshold, settings.slam_fixed_k
    )
    if not settings.fidelity_beta >= 0:
        raise ValueError(f"fidelity_beta must be >= 0, got {settings.fidelity_beta!r}")
