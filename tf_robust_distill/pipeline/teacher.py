"""The main job's teacher: trained once per teacher config and data, stored, its labels
cached once.

A stored teacher is reused only if it was trained with this teacher config on this data:
``teacher_config.json`` holds `teacher_key`, the teacher's part of the config and the
fingerprints (content and order) of the training and validation splits, so data changed
under a workdir (e.g. an npz rewritten with its examples in another order) retrains the
teacher. A new teacher replaces the stored one as one unit (`files.atomic_group`): its
config is removed first, then the old teacher's label caches, the model is renamed into
place, and the config last; a run stopped in between retrains, and a workdir never pairs
one teacher's config or labels with another teacher.
"""

import json
import os

import keras

from tf_robust_distill import data, files
from tf_robust_distill.data.fingerprint import dataset_fingerprint
from tf_robust_distill.objectives import class_priors_from_labels
from tf_robust_distill.pipeline import checkpointing
from tf_robust_distill.pipeline.cache_paths import CACHE_DIRECTORY, teacher_cache_path
from tf_robust_distill.pipeline.config_checks import validation_labels
from tf_robust_distill.pipeline.role_training import train_role

TEACHER_SECTIONS = ("dataset", "teacher", "train")
LABELED_SPLITS = ("train", "val", "test")
TRAINING_SPLITS = ("train", "val")
MODEL_FILE = "teacher.keras"
CONFIG_FILE = "teacher_config.json"
STALE_TEACHER = "delete it (or the whole workdir) to train the teacher again"


def teacher_config(config):
    """The part of the config that determines the teacher (used to reuse a trained one)."""
    sections = {key: config[key].to_dict() for key in TEACHER_SECTIONS}
    return json.loads(json.dumps({**sections, "seed": config.seed}))


def teacher_key(config, context):
    """What determines the teacher: `teacher_config` and the fingerprints of the data it
    learns from (the training split, and the validation split its multipliers read)."""
    fingerprints = {
        split: dataset_fingerprint(getattr(context.splits, split)) for split in TRAINING_SPLITS
    }
    return {**teacher_config(config), "data": fingerprints}


def teacher_seed(config):
    """Seed of the teacher's initialization and data order (repeated teachers on one
    data split); ``config.seed`` also seeds the split."""
    return config.seed if config.teacher.seed is None else config.teacher.seed


def derived_arguments(config, context):
    """What a teacher objective may need from the data: π̂ = the training label
    frequencies (robust distillation §3), N, one-hot validation labels."""
    splits = context.splits
    return {
        "class_priors": lambda: class_priors_from_labels(splits.train_labels, splits.num_classes),
        "num_train_examples": lambda: len(splits.train_labels),
        "validation_labels": lambda: validation_labels(config.teacher, "teacher"),
    }


def stored_teacher(key, context, directory):
    """The teacher stored in `directory` if its `teacher_key` is `key`, else None.

    Raises:
      ValueError: teacher_config.json or teacher.keras is damaged (e.g. truncated),
        naming the file and what to do.
    """
    model_path = os.path.join(directory, MODEL_FILE)
    config_path = os.path.join(directory, CONFIG_FILE)
    if not (os.path.exists(model_path) and os.path.exists(config_path)):
        return None
    if files.read_json(config_path, STALE_TEACHER) != key:
        return None
    with context.strategy.scope():
        return checkpointing.load_model(model_path, STALE_TEACHER)


def store_teacher(teacher, key, directory):
    """Replace the teacher stored in `directory` (and its label caches) by `teacher`."""
    model_path = os.path.join(directory, MODEL_FILE)
    with files.atomic_group(
        [model_path],
        seal=os.path.join(directory, CONFIG_FILE),
        remove=[os.path.join(directory, CACHE_DIRECTORY)],
    ) as partial:
        teacher.save(partial[model_path])
        files.write_json(key, partial[os.path.join(directory, CONFIG_FILE)])


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
    key = teacher_key(config, context)
    teacher = stored_teacher(key, context, directory)
    if teacher is None:
        seed = teacher_seed(config)
        keras.utils.set_random_seed(seed)
        teacher = train_role(
            "teacher",
            config,
            context,
            directory,
            derived=derived_arguments(config, context),
            seed=seed,
        )
        store_teacher(teacher, key, directory)
    labels = label_splits(teacher, context, directory, config.eval.batch_size)
    return context.with_teacher(teacher.backbone, directory, labels), teacher
