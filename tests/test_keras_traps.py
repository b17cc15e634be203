"""What a Keras user meets calling the wrappers directly: standard callbacks, Keras's
``fit`` arguments and the usual label formats (issue #17). Each test fails on the
behaviour it replaces (named in its docstring)."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.processes import environment
from support.tiny import NUM_CLASSES, batches, examples, tiny_net

from tf_robust_distill import metrics
from tf_robust_distill.objectives import (
    BalancedModel,
    GroupDROModel,
    KDModel,
    MultiplierUpdate,
    OnlineTeacher,
    RobustModel,
    SLaMModel,
    StandardModel,
    WeightedModel,
    class_priors_from_probs,
)


def _softmax(logits, temperature=1.0):
    z = logits.astype(np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _cross_entropy(labels, logits):
    """mean_i −log softmax(f(x_i))_{y_i}."""
    return float(np.mean(-np.log(_softmax(logits)[np.arange(len(labels)), labels])))


def _assert_same_weights(a, b, atol=1e-6):
    for first, second in zip(a, b, strict=True):
        np.testing.assert_allclose(first, second, atol=atol)


def _validation(n=30):
    """Validation arrays with every class: (x, labels)."""
    x, targets = examples(n=n, seed=5, cycled_labels=True)
    return x, targets["label"]


def _priors():
    return class_priors_from_probs(examples()[1]["teacher_probs"])


def _robust(**kwargs):
    model = RobustModel(tiny_net(), distill=True, class_priors=_priors(), step_size=1.0, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def _tensorboard_tags(directory):
    tags = set()
    for path in tf.io.gfile.glob(f"{directory}/*"):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_per_class_recall_logs_one_scalar_per_class_through_standard_callbacks(tmp_path):
    """Was: a [C] result, which TensorBoard refused ("Expected scalar shape")."""
    x, targets = examples(n=48, cycled_labels=True)
    x_val, y_val = _validation()
    model = StandardModel(tiny_net())
    model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=[metrics.PerClassRecall(3)])
    callbacks = [
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    history = model.fit(
        x,
        {"label": targets["label"]},
        validation_data=(x_val, {"label": y_val}),
        epochs=2,
        batch_size=16,
        verbose=0,
        callbacks=callbacks,
    ).history
    predictions = model.predict(x_val, verbose=0).argmax(axis=1)
    expected = metrics.per_class_recall(y_val, predictions, NUM_CLASSES)
    logged = [history[f"val_recall_{j}"][-1] for j in range(NUM_CLASSES)]
    np.testing.assert_allclose(logged, expected, rtol=1e-6)
    names = [f"recall_{j}" for j in range(NUM_CLASSES)]
    assert {f"epoch_{name}" for name in names} <= _tensorboard_tags(tmp_path / "tb" / "train")
    assert set(names) <= set((tmp_path / "log.csv").read_text().splitlines()[0].split(","))


class _Preempted(keras.callbacks.Callback):
    """Stops a fit at the start of epoch 1, as a preemption would."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("preempted")


@pytest.mark.parametrize("kind", ["standard", "robust"])
def test_backup_and_restore_resumes_a_fresh_wrapper(tmp_path, kind):
    """Was: "... is unbuilt" from BackupAndRestore before the first step. The resumed run
    ends with the weights (and λ) of an uninterrupted one."""
    x_val, y_val = _validation()

    def fit(callbacks):
        if kind == "standard":
            model = StandardModel(tiny_net(), distill=True)
            model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
        else:
            model = _robust()
        history = model.fit(
            batches(cycled_labels=True),
            epochs=3,
            verbose=0,
            validation_data=(x_val, {"label": y_val}),
            callbacks=callbacks,
        )
        return model, history

    def backup():
        return keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))

    with pytest.raises(RuntimeError, match="preempted"):
        fit([backup(), _Preempted()])
    resumed, history = fit([backup()])
    assert history.epoch == [1, 2]
    uninterrupted, _ = fit([])
    _assert_same_weights(resumed.get_weights(), uninterrupted.get_weights())


def test_a_student_validated_on_labels_only_reports_val_loss_for_early_stopping():
    """Was: no val_loss, so the default EarlyStopping() never had a value to monitor."""
    x, targets = examples(n=48)
    x_val, y_val = _validation()
    student = StandardModel(tiny_net(), distill=True)
    student.compile(optimizer=keras.optimizers.SGD(0.1))
    stopper = keras.callbacks.EarlyStopping()
    history = student.fit(
        x,
        targets,
        validation_data=(x_val, {"label": y_val}),
        epochs=3,
        batch_size=16,
        verbose=0,
        callbacks=[stopper],
    ).history
    expected = _cross_entropy(y_val, student.predict(x_val, verbose=0))
    assert history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
    assert stopper.best == min(history["val_loss"])


def test_multiplier_models_never_fit_with_silently_fixed_multipliers():
    """Was: a RobustModel fitted without MultiplierUpdate trained the balanced objective."""
    validation = batches(n=30, seed=5, cycled_labels=True)
    with pytest.raises(ValueError, match="MultiplierUpdate"):
        _robust().fit(batches(), epochs=1, verbose=0)
    group_dro = GroupDROModel(tiny_net(), use_validation=True)
    group_dro.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="multiplier_update_required=False"):
        group_dro.fit(batches(), epochs=1, verbose=0)

    explicit = _robust()
    explicit.fit(batches(), epochs=2, verbose=0, callbacks=[MultiplierUpdate(validation)])
    implicit = _robust()
    implicit.fit(batches(), epochs=2, verbose=0, validation_data=validation)
    _assert_same_weights(implicit.get_weights(), explicit.get_weights())
    assert not np.allclose(implicit.multipliers.current(), 1 / NUM_CLASSES)

    fixed = _robust(multiplier_update_required=False)
    fixed.fit(batches(), epochs=1, verbose=0, validation_data=validation)
    np.testing.assert_allclose(fixed.multipliers.current(), 1 / NUM_CLASSES, rtol=1e-6)


def test_kd_tempers_teacher_logits_itself_and_refuses_a_teacher_at_another_temperature():
    """Was: teacher_logits unknown; an OnlineTeacher at T = 2 fed a KD student at T = 4."""
    x, targets = examples(n=48)
    teacher_logits = 3.0 * np.random.default_rng(3).normal(size=(48, NUM_CLASSES))
    teacher_logits = teacher_logits.astype(np.float32)

    def trained(teacher_targets):
        model = KDModel(tiny_net(), alpha=0.5, temperature=4.0)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        model.fit(
            x,
            {"label": targets["label"], **teacher_targets},
            epochs=1,
            batch_size=16,
            shuffle=False,
            verbose=0,
        )
        return model.get_weights()

    from_logits = trained({"teacher_logits": teacher_logits})
    at_t = _softmax(teacher_logits, 4.0).astype(np.float32)
    _assert_same_weights(from_logits, trained({"teacher_probs": at_t}))
    at_one = trained({"teacher_probs": _softmax(teacher_logits).astype(np.float32)})
    assert not np.allclose(from_logits[-1], at_one[-1], atol=1e-4)
    with pytest.raises(ValueError, match="not both"):
        trained({"teacher_logits": teacher_logits, "teacher_probs": at_t})
    with pytest.raises(ValueError, match=r"temperature=2\.0"):
        KDModel(tiny_net(), temperature=4.0).attach_teacher(OnlineTeacher(tiny_net(), 2.0))


def test_class_weight_weights_each_example_by_its_label():
    """Was: Keras refused class_weight for dict targets. One SGD step equals a step on
    Σ_i w_{y_i} ℓ_i / N computed by hand, from arrays and from a dataset."""
    x, targets = examples(n=16)
    labels = targets["label"]
    class_weight = {0: 0.5, 2: 3.0}  # class 1 unlisted: weight 1
    backbone = tiny_net()
    weights = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
    with tf.GradientTape() as tape:
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, backbone(x))
        loss = tf.reduce_sum(weights * per_example) / len(labels)
    gradients = tape.gradient(loss, backbone.trainable_variables)
    expected = [
        v.numpy() - 0.5 * g.numpy()
        for v, g in zip(backbone.trainable_variables, gradients, strict=True)
    ]
    dataset = tf.data.Dataset.from_tensor_slices((x, {"label": labels})).batch(16)
    for data in ({"x": x, "y": {"label": labels}, "batch_size": 16}, {"x": dataset}):
        model = StandardModel(tiny_net())
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        model.fit(**data, class_weight=class_weight, epochs=1, verbose=0)
        _assert_same_weights([v.numpy() for v in model.backbone.trainable_variables], expected)

    balanced = BalancedModel(tiny_net(), class_priors=[1 / 3] * 3)
    balanced.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="refuses class_weight: its margin loss"):
        balanced.fit(x, {"label": labels}, class_weight=class_weight, verbose=0)


def test_multiplier_update_takes_validation_arrays_and_one_hot_labels():
    """Was: a TypeError for anything but a tf.data.Dataset."""
    x_val, y_val = _validation()
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[y_val]

    def multipliers(validation):
        model = _robust()
        model.fit(batches(), epochs=2, verbose=0, callbacks=[MultiplierUpdate(validation)])
        return np.asarray(model.multipliers.current())

    dataset = tf.data.Dataset.from_tensor_slices((x_val, {"label": y_val})).batch(7)
    expected = multipliers(dataset)
    assert not np.allclose(expected, 1 / NUM_CLASSES)
    for validation in ((x_val, {"label": y_val}), (x_val, y_val), (x_val, {"label": one_hot})):
        np.testing.assert_allclose(multipliers(validation), expected, rtol=1e-5)


def test_one_hot_labels_train_as_their_class_ids():
    """Was: refused as not 1-D (arrays), or a wrong loss deep in the graph (datasets)."""
    x, targets = examples(n=32)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[targets["label"]]

    def trained(labels, as_dataset):
        model = StandardModel(tiny_net())
        model.compile(optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
        if as_dataset:
            data = {"x": tf.data.Dataset.from_tensor_slices((x, {"label": labels})).batch(16)}
        else:
            data = {"x": x, "y": {"label": labels}, "batch_size": 16, "shuffle": False}
        history = model.fit(**data, epochs=1, verbose=0).history
        return model.get_weights(), history

    expected, expected_history = trained(targets["label"], False)
    for as_dataset in (False, True):
        weights, history = trained(one_hot, as_dataset)
        _assert_same_weights(weights, expected)
        assert history["accuracy"] == pytest.approx(expected_history["accuracy"])
    with pytest.raises(ValueError, match="one-hot rows"):
        trained(np.full((32, NUM_CLASSES), 1 / 3, np.float32), False)


@pytest.mark.parametrize("objective", ["slam", "weighted"])
def test_unlabeled_students_train_without_labels(objective):
    """Was: 'label' required on every row. Without it the loss and weights are those of
    the same fit with labels (the losses do not read them); the training metrics are left
    out, the validation metrics computed."""
    x, targets = examples(n=48)
    x_val, y_val = _validation()
    unlabeled = {"teacher_probs": targets["teacher_probs"], "index": targets["index"]}
    if objective == "slam":
        labeled = (np.arange(48) < 16).astype(np.float32)
        alpha = np.full(48, 0.7, np.float32)
        unlabeled.update(labeled=labeled, alpha=alpha, topk=np.ones((48, 3), np.float32))

    def trained(student_targets):
        if objective == "slam":
            model = SLaMModel(tiny_net())
        else:
            model = WeightedModel(tiny_net(), num_train_examples=48)
        model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        history = model.fit(
            x,
            student_targets,
            validation_data=(x_val, {"label": y_val}),
            epochs=2,
            batch_size=16,
            shuffle=False,
            verbose=0,
        ).history
        return model.get_weights(), history

    weights, history = trained(unlabeled)
    expected, expected_history = trained({**unlabeled, "label": targets["label"]})
    _assert_same_weights(weights, expected)
    np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=1e-6)
    assert "accuracy" not in history and "accuracy" in expected_history
    np.testing.assert_allclose(history["val_accuracy"], expected_history["val_accuracy"])


def test_a_saved_wrapper_loads_after_import_and_names_the_package_before(tmp_path):
    """README: loading needs ``import tf_robust_distill``; without it Keras's error names
    the class and its module."""
    path = str(tmp_path / "model.keras")
    model = StandardModel(tiny_net())
    model.save(path)
    load = "import sys, keras; keras.models.load_model(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", load, path], capture_output=True, text=True, env=environment()
    )
    assert result.returncode != 0
    assert "Could not locate class 'StandardModel'" in result.stderr
    assert "tf_robust_distill.objectives.standard" in result.stderr
    restored = keras.models.load_model(path)
    _assert_same_weights(restored.get_weights(), model.get_weights())
