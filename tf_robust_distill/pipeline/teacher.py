"""The main job's teacher: trained once per teacher config, stored, its labels cached once."""

import json
import os

import keras

from tf_robust_distill import data, reporting
from tf_robust_distill.objectives import class_priors_from_labels
from tf_robust_distill.pipeline import checkpointing
from tf_robust_distill.pipeline.cache_paths import teacher_cache_path
from tf_robust_distill.pipeline.config_checks import validation_labels
from tf_robust_distill.pipeline.role_training import train_role

TEACHER_SECTIONS = ("dataset", "teacher", "train")
LABELED_SPLITS = ("train", "val", "test")
MODEL_FILE = "teacher.keras"
CONFIG_FILE = "teacher_config.json"


def teacher_config(config):
    """The part of the config that determines the teacher (used to reuse a trained one)."""
    sections = {key: config[key].to_dict() for key in TEACHER_SECTIONS}
    return json.loads(json.dumps({**sections, "seed": config.seed}))


def derived_arguments(config, context):
    """What a teacher objective may need from the data: π̂ = the training label
    frequencies (robust distillation §3), N, one-hot validation labels."""
    splits = context.splits
    return {
        "class_priors": lambda: class_priors_from_labels(splits.train_labels, splits.num_classes),
        "num_train_examples": lambda: len(splits.train_labels),
        "validation_labels": lambda: validation_labels(config.teacher, "teacher"),
    }


def stored_teacher(config, context, directory):
    """The teacher stored in `directory` if it was trained with this config, else None."""
    model_path = os.path.join(directory, MODEL_FILE)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not (os.path.exists(model_path) and os.path.exists(config_path)):
        return None
    with open(config_path) as handle:
        if json.load(handle) != teacher_config(config):
            return None
    with context.strategy.scope():
        return keras.models.load_model(model_path)


def label_splits(teacher, context, directory, batch_size):
    """{split: TeacherLabels} of `teacher`'s backbone on train, val and test, cached in
    `directory`."""
    return {
        split: data.TeacherLabels.from_model(
            teacher.backbone,
            getattr(context.splits, split),
            num_examples=context.num_examples(split),
            cache_path=teacher_cache_path(directory, split),
            batch_size=batch_size,
        )
        for split in LABELED_SPLITS
    }


def teacher_for(config, context, directory):
    """The stored teacher of this config in `directory`, or a newly trained one.

    The teacher labels the training, validation and test splits once (cached beside
    it): students train on the first two; post-shift and the agreement read the others.

    Returns:
      (context with the teacher's backbone, directory and labels, the teacher model).
    """
    teacher = stored_teacher(config, context, directory)
    if teacher is None:
        teacher = train_role(
            "teacher", config, context, directory, derived=derived_arguments(config, context)
        )
        config_path = os.path.join(directory, CONFIG_FILE)
        # The config last: a run killed in between never pairs a model with another config.
        if os.path.exists(config_path):
            os.remove(config_path)
        checkpointing.save_model(teacher, os.path.join(directory, MODEL_FILE))
        reporting.write_json(teacher_config(config), config_path)
    labels = label_splits(teacher, context, directory, config.eval.batch_size)
    return context.with_teacher(teacher.backbone, directory, labels), teacher
