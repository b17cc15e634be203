"""DistillationModel plumbing: reduction, replicas, jit, save/load, target checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import batches, examples

from tf_robust_distill.objectives import KDModel, StandardModel

NUM_CLASSES = 3
WEIGHT_DECAY = 1e-2


def _net(seed=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="relu", kernel_regularizer="l2")(inputs)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(hidden))


@pytest.mark.parametrize("distill", [False, True])
def test_one_epoch_is_identical_on_one_device_and_two_replicas(two_cpu_strategy, distill):
    """70 examples in batches of 16: the last batch splits unevenly over two replicas."""

    def train(strategy):
        with strategy.scope():
            model = StandardModel(_net(), distill=distill)
            model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        history = model.fit(batches(), epochs=2, verbose=0).history
        return model.get_weights(), history

    weights_one, history_one = train(tf.distribute.get_strategy())
    weights_two, history_two = train(two_cpu_strategy)
    for a, b in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(history_one[key], history_two[key], rtol=1e-5)


def test_step_reduces_as_mean_over_batch_plus_regularization():
    """One SGD step equals a step on mean cross-entropy + the L2 terms, computed by hand."""
    x, targets = examples(n=16)
    model = StandardModel(_net())
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    backbone = _net()
    with tf.GradientTape() as tape:
        logits = backbone(x, training=True)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(targets["label"], logits)
        ) + tf.add_n(backbone.losses)
    grads = tape.gradient(loss, backbone.trainable_variables)
    expected = [
        v.numpy() - 0.5 * g.numpy()
        for v, g in zip(backbone.trainable_variables, grads, strict=True)
    ]
    model.fit(tf.data.Dataset.from_tensors((x, targets)), epochs=1, verbose=0)
    for a, b in zip(model.backbone.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-6)


def test_jit_compile_gives_the_same_weights():
    def train(jit):
        model = StandardModel(_net(), distill=True)
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit)
        model.fit(batches(), epochs=1, verbose=0)
        return model.get_weights()

    for a, b in zip(train(False), train(True), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_kd_model_loss_matches_transcription():
    x, targets = examples(n=32)
    model = KDModel(_net(), alpha=0.5, temperature=4.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logits = model.backbone(x).numpy().astype(np.float64)

    def log_softmax(f):
        f = f - f.max(axis=1, keepdims=True)
        return f - np.log(np.exp(f).sum(axis=1, keepdims=True))

    p = targets["teacher_probs"]
    hard = -log_softmax(logits)[np.arange(32), targets["label"]]
    kl = (p * (np.log(p) - log_softmax(logits / 4.0))).sum(axis=1)
    l2 = sum(float(term) for term in model.backbone.losses)
    expected = np.mean(0.5 * hard + 0.5 * 16.0 * kl) + l2
    result = model.evaluate(tf.data.Dataset.from_tensors((x, targets)), verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)


def test_missing_target_key_is_a_value_error_naming_it():
    x, targets = examples()
    student = StandardModel(_net(), distill=True)
    student.compile(optimizer="sgd")
    before = [w.copy() for w in student.get_weights()]
    dataset = tf.data.Dataset.from_tensor_slices((x, {"label": targets["label"]})).batch(8)
    with pytest.raises(ValueError, match="'teacher_probs'"):
        student.fit(dataset, epochs=1, verbose=0)
    for a, b in zip(before, student.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_targets_must_be_a_dict():
    x, targets = examples()
    model = StandardModel(_net())
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="targets a dict"):
        model.fit(x, targets["label"], epochs=1, verbose=0)


def test_compiled_loss_is_refused():
    model = StandardModel(_net())
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="without `loss`"):
        model.fit(batches(), epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"alpha": -0.1}, {"temperature": 0.0}])
def test_kd_model_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        KDModel(_net(), **kwargs)


def test_backbone_must_be_a_keras_model():
    with pytest.raises(TypeError, match="keras.Model"):
        StandardModel(lambda x: x)


def test_evaluation_without_teacher_targets_compares_the_labels():
    x, targets = examples()
    student = StandardModel(_net(), distill=True)
    student.compile(optimizer="sgd", metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensor_slices((x, {"label": targets["label"]})).batch(16)
    result = student.evaluate(dataset, verbose=0, return_dict=True)
    predictions = student.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(result["accuracy"], np.mean(predictions == targets["label"]))
