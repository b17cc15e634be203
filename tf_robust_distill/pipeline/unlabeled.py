"""Distillation with unlabeled examples: a labeled set A, a validation set V, an unlabeled set U.

The protocol of Weighted Distillation with Unlabeled Examples (Iliopoulos et al., NeurIPS
2022: §3.1.1, Algorithm 1, App. C.1) and of SLaM (Kontonis et al., NeurIPS 2023: §4.1,
Algorithm 1, App. D.1):

1. The first N training examples form A. A teacher and a student are trained on A with
   the cross-entropy on the true labels (`labeled_stage`). Both are stored in a directory
   keyed by their config, so every trial and every objective reuses them: the teacher's
   labels, and the pre-trained student's weights as the start of every distillation.
2. The teacher labels the whole training set in one bulk inference, cached beside it;
   its "features" layer too, once, when an objective needs it (VID).
3. Each trial splits the rest of the training set at random (the trial number is the
   seed) into V, labeled and never seen by the teacher, and U (`trial_split`). The
   student trains on A ∪ V ∪ U (A ∪ U without V, optionally): true labels on A and V,
   the teacher's labels on U (`StudentTrainingSet`, `distil`).
4. The student is evaluated on the test set (`run_trial`), after every epoch too: SLaM
   §4.2 reports the best test accuracy over the epochs.

The settings live in ``config.unlabeled`` (configs/unlabeled_distill.py documents each);
``OBJECTIVES`` names the student objectives.
"""

import dataclasses
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable

import keras
import numpy as np

from tf_robust_distill import data, estimators, losses, nets, precision, reporting
from tf_robust_distill.data.input_pipeline import RESERVED_KEYS
from tf_robust_distill.data.selection import num_examples
from tf_robust_distill.distribute import get_strategy, worker_directory
from tf_robust_distill.objectives import StandardModel
from tf_robust_distill.objectives.slam import RobustLossModel, SLaMModel
from tf_robust_distill.objectives.vid import VIDModel
from tf_robust_distill.objectives.weighted import DebiasingWeightUpdate, WeightedModel
from tf_robust_distill.optim import make_optimizer, steps_per_epoch
from tf_robust_distill.pipeline import checkpointing, job

WEIGHTS_FILE = "backbone.weights.h5"
REPORT_FILE = "report.json"


@dataclasses.dataclass(frozen=True)
class Objective:
    """A student objective: how to build it, and whether it has debiasing weights.

    Attributes:
      build: ``(backbone, settings, training_set) -> DistillationModel``, with
        ``settings`` the ``config.unlabeled`` section and ``training_set`` the trial's
        `StudentTrainingSet`.
      debiased: the model holds debiasing weights that `DebiasingWeightUpdate`
        estimates once, or every ``settings.weights_every_n_epochs`` epochs.
    """

    build: Callable
    debiased: bool = False


def _vanilla(backbone, settings, training_set):
    return StandardModel(backbone, distill=True)


def _robust_loss(base_loss, fidelity):
    def build(backbone, settings, training_set):
        return RobustLossModel(
            backbone,
            base_loss,
            degree=settings.taylor_degree,
            epsilon=settings.poly_epsilon,
            use_fidelity_weights=fidelity,
        )

    return build


def _slam(base_loss, fidelity):
    def build(backbone, settings, training_set):
        return SLaMModel(
            backbone,
            normalize=settings.slam_normalize,
            base_loss=base_loss,
            degree=settings.taylor_degree,
            epsilon=settings.poly_epsilon,
            use_fidelity_weights=fidelity,
        )

    return build


def _weighted(fidelity):
    def build(backbone, settings, training_set):
        return WeightedModel(backbone, training_set.num_examples, use_fidelity_weights=fidelity)

    return build


def _vid(debiased):
    def build(backbone, settings, training_set):
        return VIDModel(
            backbone,
            training_set.teacher_feature_dim,
            coefficient=settings.vid_coefficient,
            num_train_examples=training_set.num_examples if debiased else None,
        )

    return build


OBJECTIVES = {
    # Vanilla distillation with unlabeled examples (SLaM §3; weighted paper's "unweighted").
    "vanilla": Objective(_vanilla),
    # Weighted paper, Algorithm 1: debiasing weights on U (§3.1 once, §3.2 every epoch).
    "weighted": Objective(_weighted(fidelity=False), debiased=True),
    # SLaM, eq. (2) with the unnormalized mixing of Remark B.1 (or eq. (1)'s, slam_normalize).
    "slam": Objective(_slam("xent", fidelity=False)),
    # The noise-robust losses SLaM compares with (§4.2) and composes with (App. D.6).
    "taylor_ce": Objective(_robust_loss("taylor", fidelity=False)),
    "poly": Objective(_robust_loss("poly", fidelity=False)),
    "slam_taylor_ce": Objective(_slam("taylor", fidelity=False)),
    "slam_poly": Objective(_slam("poly", fidelity=False)),
    # Fidelity weights exp(−β entropy / mean entropy) on U (weighted paper App. C.3,
    # SLaM App. D.4), alone and composed with SLaM (eq. (4)) and with the debiasing weights (§3.3).
    "fidelity": Objective(_robust_loss("xent", fidelity=True)),
    "slam_fidelity": Objective(_slam("xent", fidelity=True)),
    "weighted_fidelity": Objective(_weighted(fidelity=True), debiased=True),
    # VID on the "features" layers (SLaM §4.2, Remark D.1) and weighted VID (weighted §3.1.3).
    "vid": Objective(_vid(debiased=False)),
    "weighted_vid": Objective(_vid(debiased=True), debiased=True),
}


def check_settings(settings):
    """Raise a ValueError for a bad ``config.unlabeled`` value; reads no data, writes nothing."""
    if settings.objective not in OBJECTIVES:
        raise ValueError(
            f"unknown objective {settings.objective!r}; choose one of {', '.join(OBJECTIVES)}"
        )
    if not settings.unlabeled_temperature > 0:
        raise ValueError(
            f"unlabeled_temperature (t_B) must be > 0, got {settings.unlabeled_temperature!r}"
        )
    if settings.labeled_temperature is not None and not settings.labeled_temperature > 0:
        raise ValueError(
            "labeled_temperature (t_A) must be None (true labels on A) or > 0, got "
            f"{settings.labeled_temperature!r}"
        )
    every = settings.weights_every_n_epochs
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"weights_every_n_epochs must be None or an integer >= 1, got {every!r}")
    if settings.weights_confidence not in estimators.knn_weights.CONFIDENCES:
        raise ValueError(
            f"weights_confidence must be one of {sorted(estimators.knn_weights.CONFIDENCES)}, "
            f"got {settings.weights_confidence!r}"
        )
    estimators.TeacherAccuracyEstimator(
        settings.slam_lower_bound, settings.slam_threshold, settings.slam_fixed_k
    )
    losses.check_degree(settings.taylor_degree)
    losses.check_epsilon(settings.poly_epsilon)
    if not settings.fidelity_beta >= 0:
        raise ValueError(f"fidelity_beta must be >= 0, got {settings.fidelity_beta!r}")
    if not settings.vid_coefficient >= 0:
        raise ValueError(f"vid_coefficient must be >= 0, got {settings.vid_coefficient!r}")


def prepare(config, num_labeled_values=None):
    """Check the settings, pick the strategy, seed, load the data and check the split sizes.

    Args:
      num_labeled_values: every N the caller will use (a grid's sizes); default
        ``[config.unlabeled.num_labeled]``. Each must leave room for V.

    Returns:
      a `job.Context`; nothing is written.
    """
    check_settings(config.unlabeled)
    precision.set_policy(config.mixed_precision)
    strategy = get_strategy(config.strategy, config.tpu)
    keras.utils.set_random_seed(config.seed)
    splits = data.load(
        config.dataset.name,
        seed=config.seed,
        imbalance_ratio=config.dataset.imbalance_ratio,
        data_dir=config.dataset.data_dir,
    )
    for num_labeled in num_labeled_values or [config.unlabeled.num_labeled]:
        data.split_labeled(splits.train, num_labeled, config.unlabeled.validation_size, 0)
    return job.Context(splits, strategy)


def trial_split(config, context):
    """A, V and U of trial ``config.unlabeled.trial`` (A is the same in every trial)."""
    settings = config.unlabeled
    return data.split_labeled(
        context.splits.train, settings.num_labeled, settings.validation_size, settings.trial
    )


def build_backbone(config, context, role, checkpoint=None):
    """A new ``config[role]`` net (logits), with `checkpoint`'s weights if given."""
    role_config, splits = config[role], context.splits
    with context.strategy.scope():
        backbone = nets.get(
            role_config.net,
            splits.num_classes,
            splits.input_shape,
            weight_decay=role_config.weight_decay,
            **role_config.net_options.to_dict(),
        )
        if checkpoint is not None:
            backbone.load_weights(checkpoint)
    return backbone


def build_model(config, context, backbone, make_model, num_examples):
    """``make_model(backbone)`` compiled with ``config.train``'s optimizer, in the strategy's scope.

    Args:
      num_examples: the size of the training set (for the learning-rate schedule).
    """
    with context.strategy.scope():
        model = make_model(backbone)
        optimizer = make_optimizer(config.train, steps_per_epoch(config.train, num_examples))
        model.compile(
            optimizer=optimizer,
            metrics=["accuracy"],
            jit_compile=checkpointing.jit_compile_for(config.deterministic),
        )
    return model


def fit(
    model,
    config,
    context,
    dataset,
    *,
    epochs,
    seed,
    directory,
    role,
    per_example=None,
    callbacks=(),
):
    """Fit on `dataset`; the test accuracy after every epoch is ``history['val_accuracy']``.

    The test set is passed as Keras's validation data only to record that trajectory;
    nothing is selected with it. Resumable: the training state is checkpointed after
    every epoch in `directory`, removed once the fit ends (`checkpointing.fit_resumably`).

    Args:
      directory: the checkpoint directory, one per training run.
      role: what is trained, for error messages.

    Returns:
      the history of every epoch (``History.history``), restored ones included.

    Raises:
      checkpointing.NonFiniteLossError: the loss became NaN or infinite.
    """
    train = config.train

    def batches(initial_epoch):
        return data.training_pipeline(
            dataset,
            train.batch_size,
            seed=seed,
            per_example=per_example,
            augmentation=config.dataset.augment,
            drop_remainder=train.drop_remainder,
            epochs=epochs,
            initial_epoch=initial_epoch,
        )

    return checkpointing.fit_resumably(
        model,
        batches,
        directory,
        role=role,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch(train, num_examples(dataset)),
        callbacks=callbacks,
        deterministic=config.deterministic,
        validation_data=data.evaluation_pipeline(context.splits.test, config.eval.batch_size),
        verbose=config.verbose,
    )


def stored_directory(root, role, description):
    """``root/<role>-labeled<N>-<hash of description>``: one directory per trained config."""
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    return os.path.join(root, f"{role}-labeled{description['num_labeled']}-{digest[:12]}")


def trained_on_labeled(role, config, context, split, root):
    """The ``config[role]`` net trained on A (cross-entropy on the true labels), stored once.

    Weighted paper Algorithm 1 line 1 and SLaM Algorithm 1: teacher and student are
    trained on A, for ``config.unlabeled.labeled_epochs`` epochs. The backbone's weights
    and its `job.evaluate` report are written to a directory keyed by everything that
    determines them; a later call with the same config loads them instead.

    Returns:
      (backbone, directory, report).
    """
    num_labeled = len(split.labeled_positions)
    description = {
        "role": role,
        "num_labeled": num_labeled,
        "labeled_epochs": config.unlabeled.labeled_epochs,
        "net": config[role].to_dict(),
        "dataset": config.dataset.to_dict(),
        "train": config.train.to_dict(),
        "seed": config.seed,
    }
    directory = stored_directory(root, role, description)
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    report_path = os.path.join(directory, REPORT_FILE)
    if os.path.exists(report_path):
        with open(report_path) as handle:
            return build_backbone(config, context, role, weights_path), directory, json.load(handle)
    keras.utils.set_random_seed(config.seed)
    backbone = build_backbone(config, context, role)
    model = build_model(config, context, backbone, StandardModel, num_labeled)
    fit(
        model,
        config,
        context,
        split.labeled,
        epochs=config.unlabeled.labeled_epochs,
        seed=config.seed,
        directory=checkpointing.checkpoint_directory(directory, role, description),
        role=f"{role} on the labeled set",
    )
    report, _ = job.evaluate(backbone, context, config)
    os.makedirs(directory, exist_ok=True)
    partial = os.path.join(directory, "partial." + WEIGHTS_FILE)
    backbone.save_weights(partial)
    os.replace(partial, weights_path)
    reporting.write_json(description, os.path.join(directory, "config.json"))
    reporting.write_json(report, report_path)
    return backbone, directory, report


@dataclasses.dataclass(frozen=True, eq=False)
class LabeledStage:
    """What is trained on A once and reused by every trial and objective.

    Attributes:
      teacher: the teacher's backbone (logits), trained on A.
      teacher_labels: `TeacherLabels` of the teacher on the whole training set.
      teacher_directory: where the teacher and its cached bulk inferences are stored.
      student_checkpoint: the pre-trained student's weights, the start of every student.
      reports: `job.evaluate` reports of the "teacher" and the "pretrained_student".
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
            num_examples=len(context.splits.train_labels),
            cache_path=os.path.join(self.teacher_directory, "teacher_labels", "train_features.npz"),
            batch_size=batch_size,
        ).values


def labeled_stage(config, context, root):
    """Teacher and pre-trained student on A of ``config.unlabeled.num_labeled`` examples.

    Trained (or loaded) under `root`; the teacher labels the whole training set once
    (cached beside it). Under a multi-worker strategy only the chief writes in `root`;
    the other workers work in copies of it (`distribute.worker_directory`).
    """
    root = worker_directory(root, context.strategy, copy=True)
    split = trial_split(config, context)
    teacher, teacher_directory, teacher_report = trained_on_labeled(
        "teacher", config, context, split, root
    )
    _, student_directory, student_report = trained_on_labeled(
        "student", config, context, split, root
    )
    labels = data.TeacherLabels.from_model(
        teacher,
        context.splits.train,
        num_examples=len(context.splits.train_labels),
        cache_path=os.path.join(teacher_directory, "teacher_labels", "train.npz"),
        batch_size=config.eval.batch_size,
    )
    return LabeledStage(
        teacher=teacher,
        teacher_labels=labels,
        teacher_directory=teacher_directory,
        student_checkpoint=os.path.join(student_directory, WEIGHTS_FILE),
        reports={"teacher": teacher_report, "pretrained_student": student_report},
    )


class StudentTrainingSet:
    """One trial's student training set, A ∪ V ∪ U (or A ∪ U), and its per-example targets.

    Row i is the training example at ``positions[i]`` (sorted), so ``targets['index']``
    of the input pipeline is the row of every array below.

    - ``teacher_probs`` [n, C]: the one-hot true label on A and V; on U the teacher's
      soft label softmax(f/t_B), or its one-hot argmax for hard distillation (SLaM
      Remark 3.1). With ``labeled_temperature`` t_A set, A carries the teacher's
      softmax(f/t_A) instead (SLaM App. D.5: the teacher is more confident on A, where
      it was trained, hence a temperature of its own). Temperatures apply to soft
      distillation only; hard distillation keeps A's true labels.
    - ``labeled`` [n]: 1 on A and V, 0 on U.
    - ``alpha`` [n], ``topk`` [n, C]: SLaM's α(x) and top(y_s(x); k(x)) on U, from a
      `TeacherAccuracyEstimator` fitted on V (App. B.1); 1 on A and V, where they are unused.
    - ``weight`` [n]: fidelity weights on U (`estimators.fidelity_weights` of the
      teacher's entropy), 1 on A and V.
    - ``teacher_features`` [n, D]: the teacher's "features" layer.

    α(x), k(x) and the fidelity weights measure the teacher's confidence, so they read
    its soft labels softmax(f/t_B) in hard distillation too.
    """

    ARRAYS = ("teacher_probs", "labeled", "alpha", "topk", "weight", "teacher_features")

    def __init__(self, context, split, stage, settings, batch_size):
        self.context, self.split, self.stage = context, split, stage
        self.settings, self.batch_size = settings, batch_size
        parts = [split.labeled_positions, split.unlabeled_positions]
        if settings.train_on_validation:
            parts.append(split.validation_positions)
        self.positions = np.sort(np.concatenate(parts))
        self.unlabeled_rows = self.rows(split.unlabeled_positions)

    @property
    def num_examples(self):
        return len(self.positions)

    def rows(self, positions):
        """Rows of the student training set holding the training examples at `positions`."""
        return np.searchsorted(self.positions, positions)

    @functools.cached_property
    def dataset(self):
        """The unbatched (x, label) dataset of the rows, in order."""
        return data.select_positions(self.context.splits.train, self.positions)

    def teacher_labels_at(self, positions):
        """The teacher's `TeacherLabels` restricted to the training examples at `positions`."""
        labels = self.stage.teacher_labels
        return data.TeacherLabels(labels.logits[positions], labels.fingerprint)

    def teacher_soft_labels(self, positions):
        """softmax(f/t_B) of the teacher at `positions`."""
        return self.teacher_labels_at(positions).probs(self.settings.unlabeled_temperature)

    def teacher_targets(self, positions):
        """What the student reads as the teacher's label at `positions`: soft at t_B or hard."""
        return self.teacher_labels_at(positions).targets(
            self.settings.unlabeled_temperature, self.settings.hard_labels
        )

    @functools.cached_property
    def teacher_probs(self):
        splits, settings = self.context.splits, self.settings
        targets = np.eye(splits.num_classes, dtype=np.float32)[splits.train_labels[self.positions]]
        targets[self.unlabeled_rows] = self.teacher_targets(self.split.unlabeled_positions)
        if settings.labeled_temperature is not None and not settings.hard_labels:
            labeled = self.split.labeled_positions
            targets[self.rows(labeled)] = self.teacher_labels_at(labeled).probs(
                settings.labeled_temperature
            )
        return targets

    @functools.cached_property
    def labeled(self):
        labeled = np.ones(self.num_examples, np.float32)
        labeled[self.unlabeled_rows] = 0.0
        return labeled

    @functools.cached_property
    def slam_statistics(self):
        """(α [n], top-k mask [n, C]) of SLaM, Algorithm 2 fitted on V, read on U."""
        settings, split = self.settings, self.split
        estimator = estimators.TeacherAccuracyEstimator(
            settings.slam_lower_bound, settings.slam_threshold, settings.slam_fixed_k
        ).fit(
            self.teacher_soft_labels(split.validation_positions),
            self.context.splits.train_labels[split.validation_positions],
        )
        soft = self.teacher_soft_labels(split.unlabeled_positions)
        alpha = np.ones(self.num_examples, np.float32)
        topk = np.ones((self.num_examples, soft.shape[1]), np.float32)
        alpha[self.unlabeled_rows] = estimator.alpha(soft)
        topk[self.unlabeled_rows] = estimators.top_k_mask(soft, estimator.k(soft))
        losses.check_mixing_inputs(alpha, topk)  # the train step itself does not check
        return alpha, topk

    @property
    def alpha(self):
        return self.slam_statistics[0]

    @property
    def topk(self):
        return self.slam_statistics[1]

    @functools.cached_property
    def weight(self):
        soft = self.teacher_soft_labels(self.split.unlabeled_positions)
        weight = np.ones(self.num_examples, np.float32)
        weight[self.unlabeled_rows] = estimators.fidelity_weights(
            estimators.prediction_entropy(soft), self.settings.fidelity_beta
        )
        return weight

    @functools.cached_property
    def teacher_features(self):
        features = self.stage.teacher_features(self.context, self.batch_size)
        return features[self.positions]

    @property
    def teacher_feature_dim(self):
        return self.teacher_features.shape[1]

    def per_example(self, keys):
        """The arrays named by `keys` (an objective's ``required_targets``), by name.

        ``label`` and ``index`` are set by the input pipeline and skipped here.
        """
        arrays = {}
        for key in keys:
            if key in RESERVED_KEYS:
                continue
            if key not in self.ARRAYS:
                raise ValueError(
                    f"the student training set has no per-example array {key!r}; it has "
                    f"{', '.join(self.ARRAYS)}"
                )
            arrays[key] = getattr(self, key)
        return arrays

    def debiasing_update(self):
        """`DebiasingWeightUpdate` on V and U: once, or every ``weights_every_n_epochs``.

        The teacher's probabilities are the labels the student trains on (Algorithm 2
        compares the student with them), on V as on U.
        """
        split, batch_size = self.split, self.batch_size
        return DebiasingWeightUpdate(
            data.evaluation_pipeline(split.validation, batch_size),
            self.context.splits.train_labels[split.validation_positions],
            self.teacher_targets(split.validation_positions),
            data.evaluation_pipeline(split.unlabeled, batch_size),
            self.unlabeled_rows,
            self.teacher_probs[self.unlabeled_rows],
            every_n_epochs=self.settings.weights_every_n_epochs,
            confidence=self.settings.weights_confidence,
        )

    def teacher_accuracy_on_unlabeled(self):
        """The fraction of U whose teacher top-1 class is the true label (1 − its noise rate)."""
        positions = self.split.unlabeled_positions
        predicted = self.stage.teacher_labels.logits[positions].argmax(axis=1)
        return float(np.mean(predicted == self.context.splits.train_labels[positions]))


def distil(config, context, stage, training_set):
    """The student of ``config.unlabeled.objective``, started from the pre-trained student.

    Returns:
      (model, history): the trained DistillationModel and its Keras history.
    """
    settings = config.unlabeled
    objective = OBJECTIVES[settings.objective]
    keras.utils.set_random_seed(settings.trial)
    model = build_model(
        config,
        context,
        build_backbone(config, context, "student", stage.student_checkpoint),
        lambda backbone: objective.build(backbone, settings, training_set),
        training_set.num_examples,
    )
    callbacks = [training_set.debiasing_update()] if objective.debiased else []
    # An unfinished student's checkpoints are kept beside the stage's stored models.
    history = fit(
        model,
        config,
        context,
        training_set.dataset,
        epochs=config.train.epochs,
        seed=settings.trial,
        directory=checkpointing.checkpoint_directory(
            os.path.dirname(stage.teacher_directory), "student", checkpointing.run_settings(config)
        ),
        role=f"student ({settings.objective})",
        per_example=training_set.per_example(model.required_targets),
        callbacks=callbacks,
    )
    return model, history


def run_trial(config, context, stage):
    """One trial of one objective: distil the student and evaluate it on the test set.

    Returns:
      a JSON-able dict: the student's `job.evaluate` report, its test accuracy after
      every epoch and the best of them (SLaM §4.2's number), the reports of the teacher
      and of the pre-trained student, the teacher's accuracy on U and the size of the
      student's training set.
    """
    started = time.time()
    training_set = StudentTrainingSet(
        context, trial_split(config, context), stage, config.unlabeled, config.eval.batch_size
    )
    model, history = distil(config, context, stage, training_set)
    report, _ = job.evaluate(model.backbone, context, config)
    per_epoch = [float(value) for value in history["val_accuracy"]]
    return {
        "student": report,
        "test_accuracy_per_epoch": per_epoch,
        "best_test_accuracy": max(per_epoch),
        **stage.reports,
        "teacher_accuracy_on_unlabeled": training_set.teacher_accuracy_on_unlabeled(),
        "student_training_size": training_set.num_examples,
        "seconds": time.time() - started,
    }
