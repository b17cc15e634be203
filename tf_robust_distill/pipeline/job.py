"""The main job: data -> teacher -> teacher labels (once) -> student -> evaluation.

Used by `experiments/distill.py`, the other experiment scripts and the notebooks.
Every model, optimizer and metric is built inside the configured strategy's scope.
"""

import json
import os
import time

import keras
import numpy as np

from tf_robust_distill import data, metrics, nets, reporting
from tf_robust_distill.data.labels import TeacherLabels
from tf_robust_distill.distribute import get_strategy
from tf_robust_distill.optim import make_optimizer
from tf_robust_distill.pipeline import objectives
from tf_robust_distill.pipeline.evaluation import classification_report

TEACHER_KEYS = ("seed", "dataset", "teacher", "train")


def fit(role, config, splits, strategy, workdir, context, arrays=None):
    """Build the `role` model from `config[role]` and fit it on `splits.train`.

    Args:
      arrays: {"train": {...}, "val": {...}}: per-example numpy arrays added to the
        targets of that split (e.g. ``teacher_probs``), aligned with it by position.
    """
    arrays = arrays or {}
    role_config = config[role]
    train = config.train
    num_train = len(splits.train_labels)
    steps = (
        num_train // train.batch_size if train.drop_remainder else -(-num_train // train.batch_size)
    )
    with strategy.scope():
        backbone = nets.get(
            role_config.net,
            splits.num_classes,
            splits.input_shape,
            weight_decay=role_config.weight_decay,
        )
        model = objectives.build(role, role_config.objective, backbone, role_config, context)
        model.compile(optimizer=make_optimizer(train, steps), metrics=["accuracy"])
    batches = data.training_pipeline(
        splits.train,
        train.batch_size,
        seed=config.seed,
        per_example=arrays.get("train"),
        augmentation=config.dataset.augment,
        drop_remainder=train.drop_remainder,
    )
    validation = data.evaluation_pipeline(
        splits.val, config.eval.batch_size, per_example=arrays.get("val")
    )
    model.fit(
        batches,
        validation_data=validation,
        epochs=train.epochs,
        verbose=config.verbose,
        callbacks=[keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard", role))],
    )
    return model


def teacher_config(config):
    """The part of the config that determines the teacher (used to reuse a trained one)."""
    return {
        key: config[key].to_dict() if hasattr(config[key], "to_dict") else config[key]
        for key in TEACHER_KEYS
    }


def load_or_fit_teacher(config, splits, strategy, workdir, context):
    """The teacher stored in `workdir` when it was trained with this config, else a new one."""
    model_path = os.path.join(workdir, "teacher.keras")
    config_path = os.path.join(workdir, "teacher_config.json")
    wanted = json.loads(json.dumps(teacher_config(config)))
    if os.path.exists(model_path) and os.path.exists(config_path):
        with open(config_path) as handle:
            if json.load(handle) == wanted:
                with strategy.scope():
                    return keras.models.load_model(model_path)
    teacher = fit("teacher", config, splits, strategy, workdir, context)
    teacher.save(model_path)
    reporting.write_json(wanted, config_path)
    return teacher


def label(teacher, splits, split, workdir, config):
    """The teacher's labels on `split`, from one bulk inference cached in the workdir."""
    return TeacherLabels.from_model(
        teacher.backbone,
        getattr(splits, split),
        num_examples=len(getattr(splits, f"{split}_labels")),
        cache_path=os.path.join(workdir, "teacher_labels", f"{split}.npz"),
        batch_size=config.eval.batch_size,
    )


def predict_probs(model, dataset, batch_size):
    """softmax of the model's logits on an unbatched (x, label) dataset, in order."""
    logits = model.predict(data.evaluation_pipeline(dataset, batch_size), verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(np.asarray(logits, np.float32)))


def evaluate(model, splits, config):
    """classification_report on val and test, plus the predicted probabilities."""
    report, probs = {}, {}
    for split in ("val", "test"):
        probs[split] = predict_probs(model, getattr(splits, split), config.eval.batch_size)
        report[split] = classification_report(
            getattr(splits, f"{split}_labels"),
            probs[split],
            splits.num_classes,
            config.eval.worst_k,
        )
    return report, probs


def run(config, workdir):
    """Run the job described by `config` (configs/distill.py) and write results in `workdir`."""
    objectives.check_names(config)
    strategy = get_strategy(config.strategy, config.tpu)
    started = time.time()
    keras.utils.set_random_seed(config.seed)
    os.makedirs(workdir, exist_ok=True)
    splits = data.load(
        config.dataset.name,
        seed=config.seed,
        imbalance_ratio=config.dataset.imbalance_ratio,
        data_dir=config.dataset.data_dir,
    )
    context = {"train_labels": splits.train_labels, "num_classes": splits.num_classes}
    teacher = load_or_fit_teacher(config, splits, strategy, workdir, context)
    results = {
        "config": config.to_dict(),
        "dataset": {
            "name": splits.name,
            "num_classes": splits.num_classes,
            "train_size": len(splits.train_labels),
            "val_size": len(splits.val_labels),
            "test_size": len(splits.test_labels),
            "train_class_counts": np.bincount(splits.train_labels, minlength=splits.num_classes),
        },
    }
    results["teacher"], teacher_probs = evaluate(teacher, splits, config)

    if config.student.objective != objectives.NO_STUDENT:
        arrays = {
            split: {
                "teacher_probs": label(teacher, splits, split, workdir, config).targets(
                    config.student.temperature, config.student.hard_labels
                )
            }
            for split in ("train", "val")
        }
        student = fit("student", config, splits, strategy, workdir, context, arrays)
        results["student"], student_probs = evaluate(student, splits, config)
        results["agreement"] = {
            split: metrics.agreement(teacher_probs[split], student_probs[split])
            for split in ("val", "test")
        }
        student.save(os.path.join(workdir, "student.keras"))
    results["seconds"] = time.time() - started
    table = reporting.write_run(results, workdir, list(splits.class_names))
    return results, table
