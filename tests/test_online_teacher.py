"""Online teacher: the same targets as the cached ones on unaugmented data, on any strategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_feature_distillation import (
    INPUT_SHAPE,
    NUM_CLASSES,
    SPATIAL_SHAPES,
    STAGES,
    TEACHER_WIDTHS,
    _conv_net,
    _data,
    _teacher,
)

from tf_robust_distill.objectives.feature_distillation import AttentionTransferModel, FitNetsModel
from tf_robust_distill.objectives.online_teacher import OnlineTeacher
from tf_robust_distill.objectives.standard import KDModel, StandardModel
from tf_robust_distill.objectives.vid import VIDModel

# objective -> (student, the kind of feature targets its online teacher computes)
MAKERS = {
    "kd": (lambda: KDModel(_conv_net(), alpha=0.5, temperature=4.0), None),
    "fitnets": (lambda: FitNetsModel(_conv_net(), TEACHER_WIDTHS[-1], 0.7), "features"),
    "at": (
        lambda: AttentionTransferModel(_conv_net(), SPATIAL_SHAPES, 30.0, stages=STAGES),
        "attention",
    ),
    "vid": (lambda: VIDModel(_conv_net(), TEACHER_WIDTHS[-1]), "features"),
}


def _train(name, online, strategy=None, jit=False, epochs=2):
    """Weights and history of the student `name` trained on cached or online targets."""
    x, targets = _data()  # cached targets: teacher_probs at T = 4, features, attention maps
    strategy = strategy or tf.distribute.get_strategy()
    make, kind = MAKERS[name]
    with strategy.scope():
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"], jit_compile=jit)
        if online:
            model.attach_teacher(
                OnlineTeacher(_teacher(), temperature=4.0, kind=kind, stages=STAGES)
            )
    if online:
        targets = {"label": targets["label"]}
    batches = tf.data.Dataset.from_tensor_slices((x, targets)).batch(16)
    history = model.fit(batches, epochs=epochs, verbose=0, validation_data=batches).history
    return model, model.get_weights(), history


def _assert_same(first, second, atol=1e-6):
    (_, weights_a, history_a), (_, weights_b, history_b) = first, second
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_allclose(a, b, atol=atol)
    for key in history_a:
        np.testing.assert_allclose(history_a[key], history_b[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_online_teacher_on_unaugmented_data_equals_cached_targets(name):
    _assert_same(_train(name, online=False), _train(name, online=True))


@pytest.mark.parametrize("name", ["kd", "at"])
def test_online_teacher_on_two_replicas_equals_one_device(two_cpu_strategy, name):
    """37 examples in batches of 16: the last batch splits unevenly over the replicas."""
    _assert_same(_train(name, online=True), _train(name, online=True, strategy=two_cpu_strategy))


def test_online_teacher_under_jit_equals_without():
    _assert_same(_train("fitnets", online=True), _train("fitnets", online=True, jit=True), 1e-5)


def test_teacher_reads_the_augmented_batch_it_is_given():
    """The targets are the teacher's on the step's inputs, not on any cached image."""
    teacher = _teacher()
    online = OnlineTeacher(teacher, temperature=2.0)
    x = np.random.default_rng(3).normal(size=(5, *INPUT_SHAPE)).astype(np.float32)
    flipped = x[:, :, ::-1]
    logits = teacher.predict(flipped, verbose=0).astype(np.float64) / 2.0
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    probs = online.targets(tf.constant(flipped))["teacher_probs"]
    assert probs.dtype == tf.float32
    np.testing.assert_allclose(probs.numpy(), expected, atol=1e-6)


def test_mixed_precision_teacher_gives_float32_probabilities():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        teacher = _teacher()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = tf.constant(np.random.default_rng(4).normal(size=(3, *INPUT_SHAPE)), tf.float32)
    found = OnlineTeacher(teacher, temperature=4.0, kind="features").targets(x)
    assert found["teacher_probs"].dtype == tf.float32
    assert found["teacher_features"].dtype == tf.float32
    np.testing.assert_allclose(found["teacher_probs"].numpy().sum(1), 1.0, rtol=1e-6)


def test_saved_student_loads_without_its_teacher(tmp_path):
    """The teacher is not saved: the loaded student predicts the same and reads cached targets."""
    model, _, _ = _train("kd", online=True, epochs=1)
    model.save(tmp_path / "student.keras")
    restored = keras.models.load_model(tmp_path / "student.keras")
    assert restored.online_teacher is None
    assert len(restored.weights) == len(model.weights)
    x, _ = _data()
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_a_one_hot_student_and_bad_arguments():
    """A student that reads no teacher key trains the same with a teacher attached."""
    x, targets = _data()
    losses = []
    for online in (False, True):
        model = StandardModel(_conv_net(), distill=False)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        if online:
            model.attach_teacher(OnlineTeacher(_teacher()))
        batches = tf.data.Dataset.from_tensor_slices((x, {"label": targets["label"]})).batch(16)
        losses.append(model.fit(batches, epochs=1, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        OnlineTeacher(_teacher(), temperature=0.0)
    with pytest.raises(ValueError, match="kind"):
        OnlineTeacher(_teacher(), kind="logits")
    assert NUM_CLASSES == _teacher().output.shape[-1]
