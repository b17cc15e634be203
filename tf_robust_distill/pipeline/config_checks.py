"""Checks of a job's config that fail before any model is trained or file written.

The registry refuses an unknown objective name for the role and an option the
objective's constructor does not take; the checks below refuse option values out of
range, naming the config field, before a teacher trains for a student that could not.
The models check the same values again when built. The last checks read the loaded
data (sizes, classes) but still come before any work: a run that would train nothing,
a worst-k beyond the classes, a validation split that lacks a class its objective needs.
"""

import numpy as np

from tf_robust_distill import checks, losses
from tf_robust_distill.data.topk_labels import check_top_k
from tf_robust_distill.objectives import registry
from tf_robust_distill.objectives.robust import check_step_size, check_validation_settings
from tf_robust_distill.optim import steps_per_epoch

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


def uses_teacher_validation(section, role):
    """Whether the `section` objective measures risks on teacher-labeled validation.

    True only for a student objective that updates DRO multipliers on its validation set
    (it derives ``validation_labels``, and its ``use_validation`` option, if it has one,
    is on) with ``validation_labels = "teacher"``. The robust distillation paper (§6)
    adds the temperature 0.1 for these students only.
    """
    if role == registry.TEACHER:
        return False
    return uses_validation_risks(section, role) and section.validation_labels == "teacher"


def uses_validation_risks(section, role):
    """Whether the `section` objective updates DRO multipliers from per-class risks on the
    validation split: it derives ``validation_labels`` and its ``use_validation`` option,
    if it has one, is on."""
    if section.objective in UNTRAINED_STUDENTS:
        return False
    spec = registry.get(section.objective, role)
    if "validation_labels" not in spec.derived:
        return False
    return bool(spec.settings(section.objective_kw.to_dict()).get("use_validation", True))


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


def check_epochs(epochs, name):
    """Raise unless `epochs` (config field `name`) is an integer >= 1: 0 epochs train nothing."""
    if not checks.is_integer(epochs) or epochs < 1:
        raise ValueError(f"{name} must be an integer >= 1 (0 epochs train nothing), got {epochs!r}")


def check_steps(train, num_examples, what):
    """Raise unless an epoch of `train` (batch_size, drop_remainder) over `num_examples`
    examples (`what`, e.g. "the training split") takes at least one step."""
    if steps_per_epoch(train, num_examples) < 1:
        raise ValueError(
            f"train.batch_size={train.batch_size} with train.drop_remainder=True leaves no "
            f"batch of {what} ({num_examples} examples): an epoch would train nothing; use a "
            "smaller batch or drop_remainder=False"
        )


def check_worst_k(worst_k, num_classes):
    """Raise unless eval.worst_k is None (the default k) or an integer in [1, num_classes]."""
    if worst_k is not None and (not checks.is_integer(worst_k) or not 1 <= worst_k <= num_classes):
        raise ValueError(
            f"eval.worst_k must be None or an integer in [1, {num_classes}] (the number of "
            f"classes), got {worst_k!r}"
        )


def check_teacher_top_k(section, num_classes):
    """Raise unless ``student.teacher_top_k`` is None (dense teacher labels) or an integer
    in [1, num_classes], read from the cache (not with ``student.online_teacher``)."""
    top_k = section.get("teacher_top_k")
    if top_k is None:
        return
    try:
        check_top_k(top_k, num_classes)
    except ValueError as error:
        raise ValueError(f"student.teacher_top_k: {error}") from error
    if section.get("online_teacher"):
        raise ValueError(
            "student.teacher_top_k keeps the k largest cached teacher logits; "
            "student.online_teacher runs the teacher in the step instead: set one of them."
        )


def check_validation_classes(section, name, role, val_labels, num_classes):
    """Raise if the `name` section's objective needs every class in the validation split
    and it lacks some: post-shift fits one γ_y per class on it; one-hot DRO risks divide by
    each class's count."""
    if section.objective == POST_SHIFT:
        need = "post-shift fits a weight per class on it"
    elif uses_validation_risks(section, role) and validation_labels(section, role) == "one_hot":
        need = f"{name}.objective={section.objective!r} measures one-hot risks per class on it"
    else:
        return
    missing = sorted(set(range(num_classes)) - set(np.unique(val_labels).tolist()))
    if missing:
        raise ValueError(
            f"the validation split has no example of classes {missing}, but {need}; use a "
            "validation set (x_val, y_val) with every class"
        )
