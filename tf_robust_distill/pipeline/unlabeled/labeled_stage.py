"""What the unlabeled job trains on the labeled set A once, for every trial and objective.

Weighted paper Algorithm 1 line 1 and SLaM Algorithm 1: a teacher and a student are
trained on A with the cross-entropy on the true labels. Both are stored in a directory
keyed by everything that determines them (their config and the fingerprint of A), so
every trial and every objective reuses them: the teacher's labels of the whole training
set (one bulk inference, cached beside it), and the pre-trained student's weights as the
start of every distillation.
"""

import dataclasses
import hashlib
import json
import os

import keras
import ml_collections

from tf_robust_distill import data, files, progress, reporting
from tf_robust_distill.data.fingerprint import dataset_fingerprint
from tf_robust_distill.distribute import worker_directory
from tf_robust_distill.pipeline import checkpointing, training
from tf_robust_distill.pipeline.cache_paths import teacher_cache_path
from tf_robust_distill.pipeline.evaluation import evaluate
from tf_robust_distill.pipeline.unlabeled.settings import LABELED_OBJECTIVE

WEIGHTS_FILE = "backbone.weights.h5"
REPORT_FILE = "report.json"
NET_FIELDS = ("net", "net_options", "weight_decay")


def trial_split(config, context):
    """A, V and U of trial ``config.unlabeled.trial`` (A is the same in every trial)."""
    settings = config.unlabeled
    return data.split_labeled(
        context.splits.train, settings.num_labeled, settings.validation_size, settings.trial
    )


def net_section(section):
    """The net fields of a role section (what the labeled stage's model of that role is)."""
    return {field: section[field] for field in NET_FIELDS}


def labeled_section(section):
    """The role section's net with the cross-entropy on the true labels as objective."""
    return ml_collections.ConfigDict(
        {**net_section(section), "objective": LABELED_OBJECTIVE, "objective_kw": {}}
    )


def stored_directory(root, role, description):
    """``root/<role>-labeled<N>-<hash of description>``: one directory per trained config."""
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    return os.path.join(root, f"{role}-labeled{description['num_labeled']}-{digest[:12]}")


def load_backbone(config, context, role, weights_path):
    """The stored net of `role` trained on A.

    Raises:
      ValueError: the weights file is damaged (e.g. truncated), naming it and the remedy.
    """
    with context.strategy.scope():
        try:
            return training.build_backbone(config[role], context, weights_path)
        except OSError as error:
            raise ValueError(
                f"{weights_path} is not a readable weights file ({error}); "
                f"{retrain_remedy(weights_path)}"
            ) from error


def retrain_remedy(path):
    """What to do with a damaged file of a stored stage: delete its directory."""
    return f"delete {os.path.dirname(path)} to train it on the labeled set again."


def trained_on_labeled(role, config, context, split, root):
    """The ``config[role]`` net trained on A, stored once under `root`.

    Trained for ``config.unlabeled.labeled_epochs`` epochs; the backbone's weights and
    its `evaluation.evaluate` report are written to a directory keyed by everything that
    determines them; a later call with the same config loads them instead.

    Returns:
      (backbone, directory, report).
    """
    num_labeled = len(split.labeled_positions)
    description = {
        "role": role,
        "num_labeled": num_labeled,
        "labeled_epochs": config.unlabeled.labeled_epochs,
        "net": net_section(config[role].to_dict()),
        "dataset": config.dataset.to_dict(),
        "train": config.train.to_dict(),
        "seed": config.seed,
        "data": dataset_fingerprint(split.labeled),
    }
    directory = stored_directory(root, role, description)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    report_path = os.path.join(directory, REPORT_FILE)
    if os.path.exists(report_path):
        progress.stage(f"{role} on A", f"reusing {directory}")
        report = files.read_json(report_path, retrain_remedy(report_path))
        return load_backbone(config, context, role, weights_path), directory, report
    epochs = config.unlabeled.labeled_epochs
    progress.stage(f"{role} on A", f"training on {num_labeled} labeled examples, {epochs} epochs")
    keras.utils.set_random_seed(config.seed)
    model = training.build_model(
        config, context, "teacher", labeled_section(config[role]), train_size=num_labeled
    )
    training.fit(
        model,
        config,
        split.labeled,
        epochs=config.unlabeled.labeled_epochs,
        seed=config.seed,
        directory=checkpointing.checkpoint_directory(directory, role, description),
        name=f"{role} on the labeled set",
        validation_data=data.evaluation_pipeline(context.splits.test, config.eval.batch_size),
    )
    report, _ = evaluate(model.backbone, context, config)
    with files.atomic_path(weights_path) as partial:
        model.backbone.save_weights(partial)
    reporting.write_json(description, os.path.join(directory, "config.json"))
    reporting.write_json(report, report_path)
    return model.backbone, directory, report


@dataclasses.dataclass(frozen=True, eq=False)
class LabeledStage:
    """What is trained on A once and reused by every trial and objective.

    Attributes:
      teacher: the teacher's backbone (logits), trained on A.
      teacher_labels: `TeacherLabels` of the teacher on the whole training set
        (`TopKTeacherLabels` with ``student.teacher_top_k``).
      teacher_directory: where the teacher and its cached bulk inferences are stored.
      student_checkpoint: the pre-trained student's weights, the start of every student.
      reports: `evaluation.evaluate` reports of the "teacher" and the "pretrained_student".
    """

    teacher: keras.Model
    teacher_labels: data.TeacherLabels
    teacher_directory: str
    student_checkpoint: str
    reports: dict

    def teacher_features(self, context, batch_size):
        """The teacher's "features" layer on the whole training set [N, D], one cached inference."""
        return data.TeacherFeatures.from_model(
            self.teacher,
            context.splits.train,
            kind="features",
            num_examples=context.num_examples("train"),
            cache_path=teacher_cache_path(self.teacher_directory, "train", "features"),
            batch_size=batch_size,
        ).values


def labeled_stage(config, context, root):
    """Teacher and pre-trained student on A of ``config.unlabeled.num_labeled`` examples.

    Trained (or loaded) under `root`; the teacher labels the whole training set once
    (cached beside it; its k largest logits with ``student.teacher_top_k``). Under a
    multi-worker strategy only the chief writes in `root`; the other workers work in copies
    of it (`distribute.worker_directory`).
    """
    root = worker_directory(root, context.strategy, copy=True)
    split = trial_split(config, context)
    teacher, teacher_directory, teacher_report = trained_on_labeled(
        "teacher", config, context, split, root
    )
    _, student_directory, student_report = trained_on_labeled(
        "student", config, context, split, root
    )
    top_k = config.student.get("teacher_top_k")
    progress.stage("teacher labels", f"the training set; cached in {teacher_directory}")
    labels = data.TeacherLabels.from_model(
        teacher,
        context.splits.train,
        num_examples=context.num_examples("train"),
        cache_path=teacher_cache_path(teacher_directory, "train", top_k=top_k),
        batch_size=config.eval.batch_size,
        top_k=top_k,
    )
    return LabeledStage(
        teacher=teacher,
        teacher_labels=labels,
        teacher_directory=teacher_directory,
        student_checkpoint=os.path.join(student_directory, WEIGHTS_FILE),
        reports={"teacher": teacher_report, "pretrained_student": student_report},
    )
