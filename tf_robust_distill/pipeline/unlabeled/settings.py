"""Checks of the unlabeled job's config: they read no data and write nothing."""

from tf_robust_distill import checks, estimators
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline.config_checks import check_epochs, check_objective
from tf_robust_distill.pipeline.unlabeled.teacher_uncertainty import check_fidelity_uncertainty

# Teacher and pre-trained student learn A with the cross-entropy on the true labels.
LABELED_OBJECTIVE = "std"


def check_settings(config):
    """Raise a ValueError for a bad student objective or ``config.unlabeled`` value."""
    if config.teacher.objective != LABELED_OBJECTIVE:
        raise ValueError(
            f"the unlabeled job trains its teacher on A with {LABELED_OBJECTIVE!r}; got "
            f"teacher.objective={config.teacher.objective!r}"
        )
    if config.teacher.get("path") is not None:
        raise ValueError(
            "the unlabeled job trains its teacher on the labeled set A; teacher.path (a "
            "trained teacher's file) is read by experiments.distill and the grids built on it"
        )
    check_objective(config.student, "student", registry.UNLABELED_STUDENT)
    check_epochs(config.train.epochs, "train.epochs")
    every = config.student.dro_update_every
    if every is not None and (not checks.is_integer(every) or every < 1):
        raise ValueError(f"student.dro_update_every must be None or an integer >= 1, got {every!r}")
    check_epochs(config.unlabeled.labeled_epochs, "unlabeled.labeled_epochs")
    temperature = config.student.temperature
    if not checks.is_real(temperature):
        raise ValueError(f"student.temperature (t_B) must be a number > 0, got {temperature!r}")
    checks.check_temperature(temperature, "student.temperature (t_B)")
    settings = config.unlabeled
    if settings.labeled_temperature is not None:
        checks.check_temperature(
            settings.labeled_temperature, "labeled_temperature (t_A, None: true labels on A)"
        )
    every = settings.weights_every_n_epochs
    if every is not None and (not checks.is_integer(every) or every < 1):
        raise ValueError(f"weights_every_n_epochs must be None or an integer >= 1, got {every!r}")
    held = settings.holdout_size
    if held is not None and (
        not checks.is_integer(held) or not 1 <= held <= settings.validation_size - 2
    ):
        raise ValueError(
            f"holdout_size must be None or an integer in [1, validation_size - 2] (V keeps at "
            f"least 2 examples for the estimators), got {held!r}"
        )
    fitted = settings.validation_size - (held or 0)
    neighbors = settings.weights_num_neighbors
    if neighbors is not None and (
        not checks.is_integer(neighbors) or neighbors < 1 or 2 * neighbors > fitted
    ):
        raise ValueError(
            f"weights_num_neighbors must be None or an integer in [1, |V| / 2] with |V| = "
            f"validation_size - holdout_size = {fitted}, got {neighbors!r}"
        )
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
    check_fidelity_uncertainty(settings)
