"""Objective names of the main job (configs' ``teacher.objective`` / ``student.objective``).

Each builder takes (backbone, role config, `job.Context`, role) and returns a
DistillationModel; the context carries the data and, for a student, the teacher's
logits, from which objectives estimate what they need (e.g. class priors π̂: label
frequencies for a teacher, the teacher's marginal over the training set for a
student, robust distillation paper §3-4).
"""

from tf_robust_distill.objectives import (
    AdaAlphaModel,
    AdaMarginModel,
    AttentionTransferModel,
    BalancedModel,
    FitNetsModel,
    GroupDROModel,
    KDModel,
    RobustModel,
    SoTeacherModel,
    StandardModel,
    class_priors_from_labels,
    class_priors_from_probs,
)
from tf_robust_distill.objectives.robust import check_validation_settings

NO_STUDENT = "none"
POST_SHIFT = "post_shift"
FEATURE_TARGETS = {"fitnets": "features", "at": "attention"}


def class_priors(config, context, role):
    """π̂: training label frequencies (teacher) or the teacher's training marginal (student)."""
    if role == "teacher":
        splits = context.splits
        return class_priors_from_labels(splits.train_labels, splits.num_classes)
    return class_priors_from_probs(context.teacher_probs("train", config.temperature))


def validation_labels(config, role):
    """Labels of the DRO validation risks: the configured ones for a student, one-hot for
    a teacher (it has no teacher to label its validation set)."""
    return config.validation_labels if role == "student" else "one_hot"


def _balanced(backbone, config, context, role):
    return BalancedModel(
        backbone, role == "student", class_priors=class_priors(config, context, role)
    )


def _robust(tradeoff):
    """L^rob (α = 1) or the trade-off L^tdf (α = config.alpha), Algorithms 1 and 3."""

    def build(backbone, config, context, role):
        return RobustModel(
            backbone,
            role == "student",
            class_priors=class_priors(config, context, role),
            alpha=config.alpha if tradeoff else 1.0,
            step_size=config.dro_step_size,
            validation_labels=validation_labels(config, role),
            risk=config.dro_risk,
            average_iterates=config.average_iterates,
        )

    return build


def _group_dro(backbone, config, context, role):
    return GroupDROModel(
        backbone,
        role == "student",
        step_size=config.group_dro_step_size,
        use_validation=config.group_dro_use_validation,
        validation_labels=validation_labels(config, role),
        risk=config.dro_risk,
    )


def _soteacher(lipschitz=True, consistency=True):
    """SoTeacher (§4) and its no-LR / no-CR ablations: the same model with one weight 0."""

    def build(backbone, config, context, role):
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


def _fitnets(backbone, config, context, role):
    """FitNets hint regression on the penultimate features + KD (SoTeacher App. D.2)."""
    return FitNetsModel(
        backbone,
        teacher_feature_dim=context.teacher_features["train"].values.shape[1],
        beta=config.feature_beta,
        alpha=config.kd_alpha,
        temperature=config.temperature,
    )


def _attention_transfer(backbone, config, context, role):
    """Attention transfer on the stages ``config.at_stages`` + KD (SoTeacher App. D.2)."""
    return AttentionTransferModel(
        backbone,
        teacher_spatial_shapes=context.teacher_features["train"].spatial_shapes,
        beta=config.feature_beta,
        stages=tuple(config.at_stages),
        alpha=config.kd_alpha,
        temperature=config.temperature,
    )


COMMON = {
    "bal": _balanced,
    "rob": _robust(tradeoff=False),
    "tdf": _robust(tradeoff=True),
    "group_dro": _group_dro,
}

TEACHER_OBJECTIVES = {
    "std": lambda backbone, config, context, role: StandardModel(backbone),
    **COMMON,
    "soteacher": _soteacher(),
    "soteacher_no_lr": _soteacher(lipschitz=False),
    "soteacher_no_cr": _soteacher(consistency=False),
}

STUDENT_OBJECTIVES = {
    "std": lambda backbone, config, context, role: StandardModel(backbone, distill=True),
    **COMMON,
    "kd": lambda backbone, config, context, role: KDModel(
        backbone, alpha=config.kd_alpha, temperature=config.temperature
    ),
    "ada_margin": lambda backbone, config, context, role: AdaMarginModel(backbone),
    "ada_alpha": lambda backbone, config, context, role: AdaAlphaModel(backbone),
    "fitnets": _fitnets,
    "at": _attention_transfer,
}

UNTRAINED_STUDENTS = (NO_STUDENT, POST_SHIFT)
# The step size of each DRO objective's multiplier update, by config field.
STEP_SIZE_FIELDS = {
    "rob": "dro_step_size",
    "tdf": "dro_step_size",
    "group_dro": "group_dro_step_size",
}


def lookup(role, name):
    """The builder of objective `name` for `role` ('teacher' or 'student')."""
    table = TEACHER_OBJECTIVES if role == "teacher" else STUDENT_OBJECTIVES
    if name not in table:
        extra = list(UNTRAINED_STUDENTS) if role == "student" else []
        raise ValueError(
            f"unknown {role} objective {name!r}; choose one of {', '.join([*table, *extra])}"
        )
    return table[name]


def build(role, name, backbone, config, context):
    """The DistillationModel for objective `name` of `role`."""
    return lookup(role, name)(backbone, config, context, role)


def check_names(config):
    """Fail before any work when a config names an objective that does not exist."""
    lookup("teacher", config.teacher.objective)
    if config.student.objective not in UNTRAINED_STUDENTS:
        lookup("student", config.student.objective)


def check_options(config):
    """Fail before any work when a role's objective options are out of range.

    The models check them again when built; checking here names the config field and
    refuses a student's option before a teacher trains.
    """
    for role in ("teacher", "student"):
        options, name = config[role], config[role].objective
        if name == "tdf" and not 0.0 <= options.alpha <= 1.0:
            raise ValueError(f"{role}.alpha must be in [0, 1], got {options.alpha}")
        if name in ("kd", *FEATURE_TARGETS) and not 0.0 <= options.kd_alpha <= 1.0:
            raise ValueError(f"{role}.kd_alpha must be in [0, 1], got {options.kd_alpha}")
        if name in STEP_SIZE_FIELDS:
            field = STEP_SIZE_FIELDS[name]
            if not options[field] > 0:
                raise ValueError(f"{role}.{field} must be > 0, got {options[field]}")
            labels = validation_labels(options, role)
            check_validation_settings(labels, options.dro_risk, distill=role == "student")
