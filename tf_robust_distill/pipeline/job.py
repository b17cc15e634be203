"""The main job: data -> teacher -> teacher labels (once) -> student -> evaluation.

Used by `experiments/distill.py`, the experiment grids and the notebooks. The pieces
(`prepare`, `teacher_for`, `student_for`, `evaluate`) let a grid train a teacher once
and distil many students from its cached labels. Every model, optimizer and metric
is built inside the configured strategy's scope.
"""

import dataclasses
import json
import os
import time

import keras
import numpy as np

from tf_robust_distill import data, estimators, metrics, nets, posthoc, precision, reporting
from tf_robust_distill.data.labels import TeacherLabels
from tf_robust_distill.distribute import get_strategy, worker_directory
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.objectives import MultiplierUpdate
from tf_robust_distill.optim import make_optimizer, steps_per_epoch
from tf_robust_distill.pipeline import checkpointing, objectives
from tf_robust_distill.pipeline.evaluation import classification_report
from tf_robust_distill.temperature import candidate_temperatures, select_temperature

TEACHER_SECTIONS = ("dataset", "teacher", "train")
TRAINING_SPLITS = ("train", "val")
EVALUATED_SPLITS = ("val", "test")


@dataclasses.dataclass
class Context:
    """What a job shares between its teacher, its students and their objectives.

    Attributes:
      splits: the data (`trd.data.Splits`).
      strategy: the tf.distribute strategy every model is built under.
      teacher, teacher_dir: the trained teacher and where its caches are kept.
      teacher_logits: {"train": [N, C], "val": ..., "test": ...} once a teacher labeled them.
      teacher_features: {"train": TeacherFeatures, "val": ...} for feature distillation.
    """

    splits: data.Splits
    strategy: object
    teacher: keras.Model | None = None
    teacher_dir: str | None = None
    teacher_logits: dict = dataclasses.field(default_factory=dict)
    teacher_features: dict = dataclasses.field(default_factory=dict)

    def teacher_probs(self, split, temperature=1.0, hard=False):
        """The teacher's labels on `split` as a student reads them."""
        return TeacherLabels(self.teacher_logits[split], "").targets(temperature, hard)


def prepare(config):
    """Check the config, pick the strategy, seed, load the data. Nothing is written."""
    objectives.check_names(config)
    objectives.check_options(config)
    temperatures(config)
    precision.set_policy(config.mixed_precision)
    strategy = get_strategy(config.strategy, config.tpu)
    keras.utils.set_random_seed(config.seed)
    splits = data.load(
        config.dataset.name,
        seed=config.seed,
        imbalance_ratio=config.dataset.imbalance_ratio,
        data_dir=config.dataset.data_dir,
    )
    return Context(splits, strategy)


def student_seed(config):
    """Seed of a student's initialization and data order (repeats with a fixed teacher)."""
    return config.seed if config.student.seed is None else config.student.seed


def fit(role, config, context, workdir, arrays=None, seed=None, callbacks=()):
    """Build the `role` model from `config[role]` and fit it on the training split.

    Resumable: the training state is checkpointed after every epoch in
    ``workdir/checkpoints/<role>-<hash of config>`` (removed once the fit ends), and a
    later call with the same config continues from there (`checkpointing.fit_resumably`).

    Args:
      arrays: {"train": {...}, "val": {...}}: per-example numpy arrays added to the
        targets of that split (e.g. ``teacher_probs``), aligned with it by position.
      seed: seed of the data order and augmentation (default ``config.seed``).
      callbacks: more Keras callbacks for ``model.fit``.

    Raises:
      checkpointing.NonFiniteLossError: the loss became NaN or infinite.
    """
    arrays = arrays or {}
    splits, role_config, train = context.splits, config[role], config.train
    num_train = len(splits.train_labels)
    steps = steps_per_epoch(train, num_train)
    with context.strategy.scope():
        backbone = nets.get(
            role_config.net,
            splits.num_classes,
            splits.input_shape,
            weight_decay=role_config.weight_decay,
            **role_config.net_options.to_dict(),
        )
        model = objectives.build(role, role_config.objective, backbone, role_config, context)
        model.compile(
            optimizer=make_optimizer(train, steps),
            metrics=["accuracy"],
            jit_compile=checkpointing.jit_compile_for(config.deterministic),
        )

    def batches(initial_epoch):
        return data.training_pipeline(
            splits.train,
            train.batch_size,
            seed=config.seed if seed is None else seed,
            per_example=arrays.get("train"),
            augmentation=config.dataset.augment,
            drop_remainder=train.drop_remainder,
            epochs=train.epochs,
            initial_epoch=initial_epoch,
        )

    validation = data.evaluation_pipeline(
        splits.val, config.eval.batch_size, per_example=arrays.get("val")
    )
    callbacks = [
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard", role)),
        *callbacks,
    ]
    if getattr(model, "uses_validation_multipliers", False):
        callbacks.insert(0, MultiplierUpdate(validation, role_config.dro_update_every))
    description = {"config": checkpointing.run_settings(config), "seed": seed}
    checkpointing.fit_resumably(
        model,
        batches,
        checkpointing.checkpoint_directory(workdir, role, description),
        role=role,
        epochs=train.epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        deterministic=config.deterministic,
        validation_data=validation,
        verbose=config.verbose,
    )
    return model


def teacher_config(config):
    """The part of the config that determines the teacher (used to reuse a trained one)."""
    sections = {key: config[key].to_dict() for key in TEACHER_SECTIONS}
    return json.loads(json.dumps({**sections, "seed": config.seed}))


def teacher_for(config, context, directory):
    """The teacher stored in `directory` if trained with this config, else a new one.

    Also labels the training, validation and test splits once (cached beside the
    teacher) and puts the logits in ``context.teacher_logits``: students train on the
    first two; post-shift and the agreement read the others.
    """
    model_path = os.path.join(directory, "teacher.keras")
    config_path = os.path.join(directory, "teacher_config.json")
    wanted = teacher_config(config)
    teacher = None
    if os.path.exists(model_path) and os.path.exists(config_path):
        with open(config_path) as handle:
            if json.load(handle) == wanted:
                with context.strategy.scope():
                    teacher = keras.models.load_model(model_path)
    if teacher is None:
        teacher = fit("teacher", config, context, directory)
        # The config last: a run killed in between never pairs a model with another config.
        if os.path.exists(config_path):
            os.remove(config_path)
        checkpointing.save_model(teacher, model_path)
        reporting.write_json(wanted, config_path)
    context.teacher, context.teacher_dir = teacher, directory
    for split in ("train", *EVALUATED_SPLITS):
        context.teacher_logits[split] = TeacherLabels.from_model(
            teacher.backbone,
            getattr(context.splits, split),
            num_examples=len(getattr(context.splits, f"{split}_labels")),
            cache_path=os.path.join(directory, "teacher_labels", f"{split}.npz"),
            batch_size=config.eval.batch_size,
        ).logits
    return teacher


def teacher_features(config, context, split, kind):
    """The teacher's intermediate targets on `split` (one cached bulk inference)."""
    stages = {"stages": tuple(config.student.at_stages)} if kind == "attention" else {}
    context.teacher_features[split] = data.TeacherFeatures.from_model(
        context.teacher.backbone,
        getattr(context.splits, split),
        kind=kind,
        num_examples=len(getattr(context.splits, f"{split}_labels")),
        cache_path=os.path.join(context.teacher_dir, "teacher_labels", f"{split}_{kind}.npz"),
        batch_size=config.eval.batch_size,
        **stages,
    )
    return context.teacher_features[split]


def student_for(config, context, workdir):
    """A student distilled from ``context.teacher_logits`` with ``config.student``."""
    seed = student_seed(config)
    keras.utils.set_random_seed(seed)
    arrays = {
        split: {
            "teacher_probs": context.teacher_probs(
                split, config.student.temperature, config.student.hard_labels
            )
        }
        for split in TRAINING_SPLITS
    }
    kind = objectives.FEATURE_TARGETS.get(config.student.objective)
    if kind is not None:
        for split in TRAINING_SPLITS:
            features = teacher_features(config, context, split, kind)
            arrays[split][features.target_key] = features.values
    return fit("student", config, context, workdir, arrays, seed=seed)


def post_shift_logits(config, context):
    """Post-shift (Narasimhan & Menon 2021): log(γ ⊙ p^t) with γ fit on validation labels.

    The teacher's probabilities at the student temperature are floored at 1e-30 so
    that the scores stay finite where softmax(f/T) underflows (e.g. T = 0.1).
    """
    probs = {
        split: np.maximum(context.teacher_probs(split, config.student.temperature), 1e-30)
        for split in EVALUATED_SPLITS
    }
    shift = posthoc.PostShift().fit(probs["val"], context.splits.val_labels)
    return {split: shift.predict(p) for split, p in probs.items()}


def predict_logits(model, dataset, batch_size):
    """The model's float32 logits on an unbatched (x, label) dataset, in order."""
    logits = model.predict(data.evaluation_pipeline(dataset, batch_size), verbose=0)
    return np.asarray(logits, np.float32)


def report(logits, context, config):
    """classification_report on val and test from logits, plus the probabilities.

    Also reports calibration after temperature scaling (SoTeacher Table 3): T fitted
    on the validation half by NLL, ECE and NLL of softmax(f/T) on both halves.
    """
    splits = context.splits
    temperature = estimators.fit_temperature(logits["val"], splits.val_labels)
    results, probs = {"scaling_temperature": temperature}, {}
    for split in EVALUATED_SPLITS:
        labels = getattr(splits, f"{split}_labels")
        probs[split] = estimators.apply_temperature(logits[split], 1.0)
        results[split] = classification_report(
            labels, probs[split], splits.num_classes, config.eval.worst_k
        )
        scaled = estimators.apply_temperature(logits[split], temperature)
        results[split]["ece_after_scaling"] = metrics.expected_calibration_error(labels, scaled)
        results[split]["nll_after_scaling"] = metrics.nll(labels, scaled)
    return results, probs


def evaluate(model, context, config):
    """`report` of a model's predictions on the validation and test halves."""
    logits = {
        split: predict_logits(model, getattr(context.splits, split), config.eval.batch_size)
        for split in EVALUATED_SPLITS
    }
    return report(logits, context, config)


def distil(config, context, workdir):
    """The student of ``config.student`` at one temperature: (its report, probs, model).

    Post-shift trains nothing (its model is None); every other objective trains a
    student from the cached teacher labels.
    """
    if config.student.objective == objectives.POST_SHIFT:
        return (*report(post_shift_logits(config, context), context, config), None)
    student = student_for(config, context, workdir)
    return (*evaluate(student, context, config), student)


def temperatures(config):
    """The student temperatures to try: the configured one, or the paper's candidates."""
    temperature = config.student.temperature
    if temperature == "auto":
        return candidate_temperatures(config.student.validation_labels)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise ValueError(f"student.temperature must be a number > 0 or 'auto', got {temperature!r}")
    if not temperature > 0:
        raise ValueError(f"student.temperature must be > 0, got {temperature}")
    return (float(temperature),)


def distil_selecting_temperature(config, context, workdir):
    """`distil` at each candidate temperature; keeps the best validation worst-class accuracy.

    Robust distillation paper §6: T in {1, 3, 5} (plus 0.1 with teacher-labeled
    validation), chosen by the student's worst-class accuracy on the validation set.
    """
    candidates = {}
    for temperature in temperatures(config):
        at_temperature = with_overrides(config, {"student.temperature": temperature})
        candidates[temperature] = distil(at_temperature, context, workdir)
    chosen = select_temperature(
        {t: result[0]["val"]["worst1_accuracy"] for t, result in candidates.items()}
    )
    results, probs, student = candidates[chosen]
    results["temperature"] = chosen
    results["temperature_search"] = {
        str(t): result[0]["val"]["worst1_accuracy"] for t, result in candidates.items()
    }
    return results, probs, student


def agreement(teacher_probs, student_probs):
    """Teacher-student top-1 agreement on val and test (SoTeacher Table 4)."""
    return {
        split: metrics.agreement(teacher_probs[split], student_probs[split])
        for split in EVALUATED_SPLITS
    }


def dataset_summary(splits):
    return {
        "name": splits.name,
        "num_classes": splits.num_classes,
        "train_size": len(splits.train_labels),
        "val_size": len(splits.val_labels),
        "test_size": len(splits.test_labels),
        "train_class_counts": np.bincount(splits.train_labels, minlength=splits.num_classes),
    }


def run(config, workdir, teacher_dir=None):
    """Run the job described by `config` (configs/distill.py) and write results in `workdir`.

    Args:
      teacher_dir: where the teacher and its labels are kept (default `workdir`); grids
        point many students' workdirs at one teacher directory.
    """
    started = time.time()
    context = prepare(config)
    # Multi-worker: only the chief writes here; the others write in copies (distribute.py).
    teacher_dir = teacher_dir and worker_directory(teacher_dir, context.strategy, copy=True)
    workdir = worker_directory(workdir, context.strategy, copy=True)
    os.makedirs(workdir, exist_ok=True)
    teacher = teacher_for(config, context, teacher_dir or workdir)
    results = {"config": config.to_dict(), "dataset": dataset_summary(context.splits)}
    results["teacher"], teacher_probs = evaluate(teacher, context, config)
    student = None
    if config.student.objective != objectives.NO_STUDENT:
        results["student"], student_probs, student = distil_selecting_temperature(
            config, context, workdir
        )
        results["agreement"] = agreement(teacher_probs, student_probs)
        if student is not None:
            checkpointing.save_model(student, os.path.join(workdir, "student.keras"))
    results["seconds"] = time.time() - started
    table = reporting.write_run(results, workdir, list(context.splits.class_names))
    histories = {
        role: getattr(getattr(model, "history", None), "history", {})
        for role, model in (("teacher", teacher), ("student", student))
    }
    reporting.write_multiplier_plots(histories, workdir, list(context.splits.class_names))
    return results, table
