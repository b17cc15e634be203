"""Objective names of the main job (configs' ``teacher.objective`` / ``student.objective``).

Each builder takes (backbone, role config, `job.Context`) and returns a
DistillationModel; the context carries the data and, for a student, the teacher's
logits, from which objectives estimate what they need (e.g. class priors).
"""

from tf_robust_distill.objectives import KDModel, SoTeacherModel, StandardModel

NO_STUDENT = "none"


def _soteacher(lipschitz=True, consistency=True):
    """SoTeacher (§4) and its no-LR / no-CR ablations: the same model with one weight 0."""

    def build(backbone, config, context):
        return SoTeacherModel(
            backbone,
            config.lipschitz_weight if lipschitz else 0.0,
            config.consistency_weight_max if consistency else 0.0,
            config.consistency_schedule,
            num_train_examples=len(context.splits.train_labels),
            rampup_epochs=config.consistency_rampup_epochs,
            buffer_dtype=config.buffer_dtype,
        )

    return build


TEACHER_OBJECTIVES = {
    "std": lambda backbone, config, context: StandardModel(backbone),
    "soteacher": _soteacher(),
    "soteacher_no_lr": _soteacher(lipschitz=False),
    "soteacher_no_cr": _soteacher(consistency=False),
}

STUDENT_OBJECTIVES = {
    "std": lambda backbone, config, context: StandardModel(backbone, distill=True),
    "kd": lambda backbone, config, context: KDModel(
        backbone, alpha=config.kd_alpha, temperature=config.temperature
    ),
}


def lookup(role, name):
    """The builder of objective `name` for `role` ('teacher' or 'student')."""
    table = TEACHER_OBJECTIVES if role == "teacher" else STUDENT_OBJECTIVES
    if name not in table:
        extra = [NO_STUDENT] if role == "student" else []
        raise ValueError(
            f"unknown {role} objective {name!r}; choose one of {', '.join([*table, *extra])}"
        )
    return table[name]


def build(role, name, backbone, config, context):
    """The DistillationModel for objective `name` of `role`."""
    return lookup(role, name)(backbone, config, context)


def check_names(config):
    """Fail before any work when a config names an objective that does not exist."""
    lookup("teacher", config.teacher.objective)
    if config.student.objective != NO_STUDENT:
        lookup("student", config.student.objective)
