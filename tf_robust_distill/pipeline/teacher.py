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

With ``teacher.path`` the teacher is not trained but read from that ``.keras`` file
(`given_teacher`); its key holds the file's SHA-256 too, and the workdir keeps a copy.
"""

import json
import os
import shutil

import keras

from tf_robust_distill import data, files, progress
from tf_robust_distill.data.fingerprint import dataset_fingerprint
from tf_robust_distill.objectives import class_priors_from_labels
from tf_robust_distill.pipeline import checkpointing, given_teacher
from tf_robust_distill.pipeline.cache_paths import CACHE_DIRECTORY, teacher_cache_path
from tf_robust_distill.pipeline.config_checks import validation_labels
from tf_robust_distill.pipeline.role_training import train_role, with_train_overrides

TEACHER_SECTIONS = ("dataset", "teacher", "train")
LABELED_SPLITS = ("train", "val", "test")
TRAINING_SPLITS = ("train", "val")
MODEL_FILE = "teacher.keras"
CONFIG_FILE = "teacher_config.json"
STALE_TEACHER = "delete it (or the whole workdir) to train the teacher again"


def teacher_config(config):
    """The part of the config that determines the teacher (used to reuse a trained one).

    ``teacher.path`` appears only when set, so a teacher stored before that field existed
    keeps its key.
    """
    sections = {key: config[key].to_dict() for key in TEACHER_SECTIONS}
    if sections["teacher"].get("path", "") is None:
        del sections["teacher"]["path"]
    return json.loads(json.dumps({**sections, "seed": config.seed}))


def teacher_key(config, context):
    """What determines the teacher: `teacher_config`, the fingerprints of the data it
    learns from (the training split, and the validation split its multipliers read), and
    with ``teacher.path`` the SHA-256 of that file."""
    fingerprints = {
        split: dataset_fingerprint(getattr(context.splits, split)) for split in TRAINING_SPLITS
    }
    key = {**teacher_config(config), "data": fingerprints}
    path = config.teacher.get("path")
    if path is not None:
        given_teacher.check_path(path)
        key["file_sha256"] = given_teacher.file_sha256(path)
    return key


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


def store_teacher(teacher, key, directory, source=None):
    """Replace the teacher stored in `directory` (and its label caches) by `teacher`, saved,
    or copied from its ``.keras`` file `source` if given."""
    model_path = os.path.join(directory, MODEL_FILE)
    with files.atomic_group(
        [model_path],
        seal=os.path.join(directory, CONFIG_FILE),
        remove=[os.path.join(directory, CACHE_DIRECTORY)],
    ) as partial:
        if source is None:
            teacher.save(partial[model_path])
        else:
            shutil.copyfile(source, partial[model_path])
        files.write_json(key, partial[os.path.join(directory, CONFIG_FILE)])


def label_splits(teacher, context, directory, batch_size, top_k=None):
    """{split: TeacherLabels} of `teacher`'s backbone on train, val and test, cached in
    `directory`; with `top_k`, `TopKTeacherLabels` of its k largest logits (one cache per k)."""
    progress.stage("teacher labels", f"train, val, test; cached in {directory}")
    return {
        split: data.TeacherLabels.from_model(
            given_teacher.backbone_of(teacher),
            getattr(context.splits, split),
            num_examples=context.num_examples(split),
            cache_path=teacher_cache_path(directory, split, top_k=top_k),
            batch_size=batch_size,
            top_k=top_k,
        )
        for split in LABELED_SPLITS
    }


def new_teacher(config, context, directory):
    """The teacher of ``teacher.path``, or one trained with ``config.teacher``; and the file
    to copy it from (None: save the trained model)."""
    path = config.teacher.get("path")
    if path is not None:
        progress.stage("teacher", f"reading {path} (teacher.path)")
        return given_teacher.load_teacher(path, context.splits, context.strategy), path
    section, epochs = config.teacher, with_train_overrides(config, "teacher").train.epochs
    progress.stage("teacher", f"training {section.objective} ({section.net}), {epochs} epochs")
    seed = teacher_seed(config)
    keras.utils.set_random_seed(seed)
    teacher = train_role(
        "teacher", config, context, directory, derived=derived_arguments(config, context), seed=seed
    )
    return teacher, None


def teacher_for(config, context, directory):
    """The stored teacher of this config in `directory`, a newly trained one, or the one
    of ``teacher.path`` (`new_teacher`).

    The teacher labels the training, validation and test splits once (cached beside
    it; the k largest logits only with ``student.teacher_top_k``): students train on the
    first two; post-shift and the agreement read the others.

    Returns:
      (context with the teacher's backbone, directory and labels, the teacher model).
    """
    key = teacher_key(config, context)
    teacher = stored_teacher(key, context, directory)
    if teacher is None:
        teacher, source = new_teacher(config, context, directory)
        store_teacher(teacher, key, directory, source)
    else:
        progress.stage("teacher", f"reusing {os.path.join(directory, MODEL_FILE)}")
    labels = label_splits(
        teacher, context, directory, config.eval.batch_size, config.student.get("teacher_top_k")
    )
    backbone = given_teacher.backbone_of(teacher)
    return context.with_teacher(backbone, directory, labels), teacher
