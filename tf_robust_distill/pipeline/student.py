"""The main job's student: distilled from the cached teacher labels (or from the teacher run
in its step, ``student.online_teacher``), at one temperature or the best of the paper's
candidates."""

import keras
import numpy as np

from tf_robust_distill import checks, data, posthoc, progress
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.objectives import class_priors_from_probs, registry
from tf_robust_distill.objectives.online_teacher import OnlineTeacher
from tf_robust_distill.pipeline.cache_paths import teacher_cache_path
from tf_robust_distill.pipeline.config_checks import (
    POST_SHIFT,
    uses_teacher_validation,
    validation_labels,
)
from tf_robust_distill.pipeline.evaluation import EVALUATED_SPLITS, evaluate, report
from tf_robust_distill.pipeline.role_training import train_role, with_train_overrides
from tf_robust_distill.temperature import candidate_temperatures, select_temperature

TRAINING_SPLITS = ("train", "val")
# The teacher inference (`TeacherFeatures` kind) a derived argument is measured on.
FEATURE_KINDS = {"teacher_feature_dim": "features", "teacher_spatial_shapes": "attention"}


def student_seed(config):
    """Seed of a student's initialization and data order (repeats with a fixed teacher)."""
    return config.seed if config.student.seed is None else config.student.seed


def teacher_features(config, context, split, kind):
    """The teacher's intermediate targets of `kind` on `split` (one cached bulk inference).

    Attention maps are taken at the stages of the student's ``objective_kw.stages``
    when it sets them, else at `TeacherFeatures`'s default stages.
    """
    options = config.student.objective_kw
    at_stages = kind == "attention" and "stages" in options
    stages = {"stages": tuple(options.stages)} if at_stages else {}
    return data.TeacherFeatures.from_model(
        context.teacher,
        getattr(context.splits, split),
        kind=kind,
        num_examples=context.num_examples(split),
        cache_path=teacher_cache_path(context.teacher_dir, split, kind),
        batch_size=config.eval.batch_size,
        **stages,
    )


def feature_kind(config):
    """The kind of teacher features the student's objective reads, or None."""
    spec = registry.get(config.student.objective, registry.STUDENT)
    kinds = {FEATURE_KINDS[key] for key in spec.derived if key in FEATURE_KINDS}
    return kinds.pop() if kinds else None


def derived_arguments(config, context, features):
    """What a student objective may need: π̂ = the teacher's training marginal at the
    student's temperature (robust distillation §4; O(N·k) for top-k labels), N, the
    validation labels, the temperature, and the widths of the teacher's `features` (the
    cached training split's `TeacherFeatures`, or the `OnlineTeacher`)."""
    section = config.student
    return {
        "class_priors": lambda: class_priors_from_probs(
            context.teacher_labels["train"].marginal(section.temperature)[None]
        ),
        "num_train_examples": lambda: len(context.splits.train_labels),
        "validation_labels": lambda: validation_labels(section, registry.STUDENT),
        "temperature": lambda: section.temperature,
        "teacher_feature_dim": lambda: (
            features.feature_dim
            if isinstance(features, OnlineTeacher)
            else features["train"].values.shape[1]
        ),
        "teacher_spatial_shapes": lambda: (
            features.spatial_shapes
            if isinstance(features, OnlineTeacher)
            else features["train"].spatial_shapes
        ),
    }


def online_teacher(config, context, kind):
    """The `OnlineTeacher` of ``config.student``: the teacher at the student's temperature."""
    section = config.student
    if section.hard_labels:
        raise ValueError(
            "student.online_teacher computes teacher probabilities in the step; it does not "
            "take student.hard_labels = True (use the cached teacher labels)."
        )
    options = section.objective_kw
    stages = {"stages": tuple(options.stages)} if "stages" in options else {}
    with context.strategy.scope():
        return OnlineTeacher(context.teacher, section.temperature, kind, **stages)


def student_for(config, context, workdir):
    """A student distilled from ``context.teacher_labels`` with ``config.student``, or, with
    ``student.online_teacher``, from the teacher run on each (augmented) batch."""
    section, seed = config.student, student_seed(config)
    keras.utils.set_random_seed(seed)
    kind = feature_kind(config)
    if section.online_teacher:
        teacher = online_teacher(config, context, kind)
        derived = derived_arguments(config, context, teacher)
        return train_role(
            "student", config, context, workdir, derived=derived, seed=seed, online_teacher=teacher
        )
    arrays = {
        split: {
            "teacher_probs": context.teacher_probs(split, section.temperature, section.hard_labels)
        }
        for split in TRAINING_SPLITS
    }
    features = {}
    if kind is not None:
        for split in TRAINING_SPLITS:
            features[split] = teacher_features(config, context, split, kind)
            arrays[split][features[split].target_key] = features[split].values
    derived = derived_arguments(config, context, features)
    return train_role(
        "student", config, context, workdir, derived=derived, arrays=arrays, seed=seed
    )


def post_shift_logits(config, context):
    """Post-shift (Narasimhan & Menon 2021): log(γ ⊙ p^t) with γ fit on validation labels.

    The teacher's probabilities at the student temperature are floored at 1e-30 so
    that the scores stay finite where softmax(f/T) underflows (e.g. T = 0.1).
    """
    probs = {
        split: np.maximum(context.teacher_labels[split].probs(config.student.temperature), 1e-30)
        for split in EVALUATED_SPLITS
    }
    shift = posthoc.PostShift().fit(probs["val"], context.splits.val_labels)
    return {split: shift.predict(p) for split, p in probs.items()}


def distill(config, context, workdir):
    """The student of ``config.student`` at one temperature: (its report, probs, model).

    Post-shift trains nothing (its model is None); every other objective trains a
    student from the cached teacher labels.
    """
    section = config.student
    if section.objective == POST_SHIFT:
        progress.stage("student", f"post_shift of the teacher at temperature {section.temperature}")
        return (*report(post_shift_logits(config, context), context, config), None)
    epochs = with_train_overrides(config, "student").train.epochs
    progress.stage(
        "student",
        f"training {section.objective} ({section.net}) at temperature {section.temperature}, "
        f"{epochs} epochs",
    )
    student = student_for(config, context, workdir)
    return (*evaluate(student, context, config), student)


def temperatures(config):
    """The student temperatures to try: the configured one, or the paper's candidates
    (with 0.1 only for a student whose multipliers read teacher-labeled validation)."""
    temperature = config.student.temperature
    if temperature == "auto":
        labels = uses_teacher_validation(config.student, registry.STUDENT)
        return candidate_temperatures("teacher" if labels else "one_hot")
    if not checks.is_real(temperature):
        raise ValueError(f"student.temperature must be a number > 0 or 'auto', got {temperature!r}")
    return (checks.check_temperature(temperature, "student.temperature"),)


def distill_selecting_temperature(config, context, workdir):
    """`distill` at each candidate temperature; keeps the best validation worst-class accuracy.

    Robust distillation paper §6: T in {1, 3, 5} (plus 0.1 "when teacher labels are
    applied to the validation set"), chosen by the student's worst-class accuracy on the
    validation set.
    """
    candidates = {}
    for temperature in temperatures(config):
        at_temperature = with_overrides(config, {"student.temperature": temperature})
        candidates[temperature] = distill(at_temperature, context, workdir)
    chosen = select_temperature(
        {t: result[0]["val"]["worst1_accuracy"] for t, result in candidates.items()}
    )
    results, probs, student = candidates[chosen]
    results["temperature"] = chosen
    results["temperature_search"] = {
        str(t): result[0]["val"]["worst1_accuracy"] for t, result in candidates.items()
    }
    return results, probs, student
