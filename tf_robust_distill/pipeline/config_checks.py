"""Checks of a role section's objective that fail before any data is read or model trained.

The registry refuses an unknown objective name for the role and an option the
objective's constructor does not take; the checks below refuse option values out of
range, naming the config field, before a teacher trains for a student that could not.
The models check the same values again when built.
"""

from tf_robust_distill import losses
from tf_robust_distill.objectives import registry
from tf_robust_distill.objectives.robust import check_step_size, check_validation_settings

NO_STUDENT = "none"
POST_SHIFT = "post_shift"
UNTRAINED_STUDENTS = (POST_SHIFT, NO_STUDENT)


def check_unit_interval(alpha):
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")


# The objectives' own checks of an option, by the constructor's name of the option.
OPTION_CHECKS = {
    "alpha": check_unit_interval,
    "step_size": check_step_size,
    "degree": losses.check_degree,
    "epsilon": losses.check_epsilon,
}


def validation_labels(section, role):
    """Labels of the DRO validation risks: the section's for a student, one-hot for a
    teacher (it has no teacher to label its validation set)."""
    return "one_hot" if role == registry.TEACHER else section.validation_labels


def check_objective(section, name, role, untrained=()):
    """Check the objective of config section `name` (e.g. "student") for registry `role`.

    Args:
      untrained: names the job handles without a model (e.g. post-shift), accepted.

    Returns:
      the objective's `ObjectiveSpec`, or None for an untrained name.
    """
    if section.objective in untrained:
        return None
    spec = registry.get(section.objective, role, untrained)
    objective_kw = section.objective_kw.to_dict()
    spec.check_options(objective_kw, name)
    values = spec.settings(objective_kw)
    for option, check in OPTION_CHECKS.items():
        if option in values:
            try:
                check(values[option])
            except ValueError as error:
                raise ValueError(f"{name}.objective_kw.{error}") from None
    if "validation_labels" in spec.derived:
        labels = validation_labels(section, role)
        check_validation_settings(labels, values["risk"], distill=role != registry.TEACHER)
    return spec
