"""SoTeacherModel: loss and running mean vs numpy, replicas, save/load, float16, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.round_trip import assert_round_trip
from support.tiny import NUM_CLASSES, examples, tiny_net

from tf_robust_distill.objectives.base import StateLogger
from tf_robust_distill.objectives.consistency import consistency_weight
from tf_robust_distill.objectives.lipschitz import lipschitz_upper_bound
from tf_robust_distill.objectives.soteacher import ConsistencyWeightScheduler, SoTeacherModel
from tf_robust_distill.objectives.standard import StandardModel


def _dataset(n, batch_size=8, reshuffle=True):
    """Shuffled, reshuffled every epoch or not; the same order sequence for every call."""
    dataset = tf.data.Dataset.from_tensor_slices(examples(n))
    return dataset.shuffle(n, seed=0, reshuffle_each_iteration=reshuffle).batch(batch_size)


def _model(n, lipschitz_weight=0.01, **kwargs):
    kwargs = {"consistency_weight_max": 2.0, "schedule": "linear", **kwargs}
    model = SoTeacherModel(tiny_net(), lipschitz_weight, num_train_examples=n, **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    return model


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _buffer(model):
    return model.prediction_mean.numpy(), model.prediction_count.numpy()


def _numpy_bound(backbone):
    """ℓ_LR of the tiny dense net: Σ over its kernels of max_i Σ_j |W_ij| (App. C)."""
    return sum(np.abs(layer.kernel.numpy()).sum(axis=1).max() for layer in backbone.layers[1:])


@pytest.mark.parametrize("lipschitz_weight", [0.0, 0.05])
def test_loss_and_running_mean_match_numpy_over_shuffled_epochs(lipschitz_weight):
    """Step by step: the loss is CE + λ_CR(t)·‖p − mean of earlier p‖² + λ_LR·ℓ_LR (on the
    weights before the step), the buffer that mean."""
    n, epochs = 20, 3
    model = _model(n, lipschitz_weight=lipschitz_weight, rampup_epochs=2)
    scheduler = ConsistencyWeightScheduler()
    scheduler.set_model(model)
    scheduler.set_params({"epochs": epochs})
    history = {i: [] for i in range(n)}
    dataset = _dataset(n)
    for epoch in range(epochs):
        scheduler.on_epoch_begin(epoch)
        weight = consistency_weight("linear", epoch, 2, 2.0)
        for x, targets in dataset:
            index = targets["index"].numpy()
            probs = _softmax(model.backbone(x, training=True).numpy().astype(np.float64))
            labels = targets["label"].numpy()
            cross_entropy = -np.log(probs[np.arange(len(index)), labels])
            consistency = np.array(
                [((p - np.mean(history[i], axis=0)) ** 2).sum() if history[i] else 0.0
                 for i, p in zip(index, probs, strict=True)]
            )  # fmt: skip
            bound = _numpy_bound(model.backbone)
            logs = model.train_on_batch(x, targets, return_dict=True)
            np.testing.assert_allclose(
                logs["loss"],
                np.mean(cross_entropy + weight * consistency) + lipschitz_weight * bound,
                rtol=1e-5,
            )
            for i, p in zip(index, probs, strict=True):
                history[i].append(p)
    mean, count = _buffer(model)
    np.testing.assert_array_equal(count, epochs)
    expected = np.stack([np.mean(history[i], axis=0) for i in range(n)])
    np.testing.assert_allclose(mean, expected, atol=1e-6)


def test_one_step_gradient_includes_consistency_and_lipschitz_terms():
    n, lipschitz_weight, weight = 16, 0.05, 0.7
    x, targets = examples(n)
    rng = np.random.default_rng(2)
    model = _model(n, lipschitz_weight)
    model.prediction_mean.assign(rng.dirichlet(np.ones(NUM_CLASSES), size=n))
    model.prediction_count.assign(rng.integers(0, 3, n))
    model.consistency_weight.assign(weight)
    backbone = tiny_net()
    mean = model.prediction_mean.numpy()
    seen = (model.prediction_count.numpy() > 0).astype(np.float32)
    with tf.GradientTape() as tape:
        logits = backbone(x, training=True)
        probs = tf.nn.softmax(logits)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(targets["label"], logits)
        consistency = seen * tf.reduce_sum((probs - mean) ** 2, axis=1)
        loss = tf.reduce_mean(cross_entropy + weight * consistency)
        loss += lipschitz_weight * lipschitz_upper_bound(backbone)
    grads = tape.gradient(loss, backbone.trainable_variables)
    expected = [
        v.numpy() - 0.5 * g.numpy()
        for v, g in zip(backbone.trainable_variables, grads, strict=True)
    ]
    model.train_on_batch(x, targets)
    for a, b in zip(model.backbone.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-6)


def test_first_epoch_has_no_consistency_term():
    """Resumed at an epoch where λ_CR = λ_max, a fresh buffer still gives CE + λ_LR·ℓ_LR."""
    n, lipschitz_weight = 20, 0.1
    model = SoTeacherModel(tiny_net(), lipschitz_weight, 1.0, num_train_examples=n, rampup_epochs=2)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(_dataset(n), initial_epoch=2, epochs=3, verbose=0).history
    assert history["consistency_weight"] == [1.0]
    x, targets = examples(n)
    logits = model.backbone(x).numpy().astype(np.float64)
    cross_entropy = -np.log(_softmax(logits)[np.arange(n), targets["label"]])
    expected = cross_entropy.mean() + lipschitz_weight * float(
        lipschitz_upper_bound(model.backbone)
    )
    np.testing.assert_allclose(history["loss"], [expected], rtol=1e-5)
    np.testing.assert_array_equal(model.prediction_count.numpy(), 1)


def test_no_cr_trains_on_ce_and_lipschitz_and_leaves_the_buffer_empty():
    """λ_CR^max = 0: the loss is CE + λ_LR·ℓ_LR, the weights those of the full model with
    λ_CR held at 0, and the buffer is never written."""
    n, lipschitz_weight = 20, 0.05
    no_cr = _model(n, lipschitz_weight, consistency_weight_max=0.0)
    full = _model(n, lipschitz_weight)
    x, targets = examples(n)
    for model in (no_cr, full):
        model.consistency_weight.assign(0.0)
        for _ in range(3):
            bound = _numpy_bound(model.backbone)
            logits = model.backbone(x).numpy().astype(np.float64)
            cross_entropy = -np.log(_softmax(logits)[np.arange(n), targets["label"]])
            logs = model.train_on_batch(x, targets, return_dict=True)
            np.testing.assert_allclose(
                logs["loss"], cross_entropy.mean() + lipschitz_weight * bound, rtol=1e-5
            )
    for a, b in zip(no_cr.backbone.get_weights(), full.backbone.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert not no_cr.prediction_count.numpy().any() and not no_cr.prediction_mean.numpy().any()
    np.testing.assert_array_equal(full.prediction_count.numpy(), 3)


def test_fit_given_a_callback_list_adds_the_default_callbacks_once():
    """Keras passes a CallbackList through fit; its scheduler is kept and no other added."""
    n, epochs = 16, 2
    model = _model(n, rampup_epochs=epochs)
    scheduler = ConsistencyWeightScheduler()
    callbacks = keras.callbacks.CallbackList(
        [scheduler], add_history=True, model=model, epochs=epochs
    )
    history = model.fit(_dataset(n), epochs=epochs, verbose=0, callbacks=callbacks).history
    expected = [consistency_weight("linear", t, epochs, 2.0) for t in range(epochs)]
    np.testing.assert_allclose(history["consistency_weight"], expected)
    kinds = [type(callback) for callback in callbacks.callbacks]
    assert kinds.count(ConsistencyWeightScheduler) == 1 and kinds.count(StateLogger) == 1
    assert scheduler in callbacks.callbacks


def test_buffer_is_identical_on_one_device_and_two_replicas(two_cpu_strategy):
    """37 examples in batches of 8: the last batch (5) splits 3/2 over two replicas.

    One shuffled order for all epochs: under a strategy, fit draws a different reshuffle.
    """
    n, epochs = 37, 3

    def train(strategy):
        with strategy.scope():
            model = _model(n, schedule="cyclic")
        history = model.fit(_dataset(n, reshuffle=False), epochs=epochs, verbose=0).history
        return model, history

    one, history_one = train(tf.distribute.get_strategy())
    two, history_two = train(two_cpu_strategy)
    copies = [copy.numpy() for copy in two.prediction_mean.value.values]
    np.testing.assert_array_equal(copies[0], copies[1])
    counts = [copy.numpy() for copy in two.prediction_count.value.values]
    np.testing.assert_array_equal(counts[0], counts[1])
    np.testing.assert_array_equal(counts[0], epochs)
    np.testing.assert_allclose(_buffer(one)[0], _buffer(two)[0], atol=1e-6)
    np.testing.assert_array_equal(_buffer(one)[1], _buffer(two)[1])
    for a, b in zip(one.backbone.get_weights(), two.backbone.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    expected_weights = [consistency_weight("cyclic", t, epochs, 2.0) for t in range(epochs)]
    for history in (history_one, history_two):
        np.testing.assert_allclose(history["consistency_weight"], expected_weights, rtol=1e-6)
    np.testing.assert_allclose(history_one["loss"], history_two["loss"], rtol=1e-5)


def test_float16_buffer_tracks_the_float32_one_and_survives_keras_save_and_load(tmp_path):
    n = 20
    reference = _model(n, schedule="piecewise", rampup_epochs=4)
    reference.fit(_dataset(n), epochs=3, verbose=0)
    model = _model(n, schedule="piecewise", rampup_epochs=4, buffer_dtype="float16")
    model.fit(_dataset(n), epochs=3, verbose=0)
    assert model.prediction_mean.dtype == "float16"
    # float16 storage stays within half-precision error of the float32 buffer.
    np.testing.assert_allclose(_buffer(model)[0], _buffer(reference)[0], atol=3e-3)
    restored = assert_round_trip(model, tmp_path / "soteacher.keras", *examples(n))
    assert restored.prediction_mean.dtype == "float16"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lipschitz_weight": -1e-5}, "lipschitz_weight"),
        ({"consistency_weight_max": -1.0}, "consistency_weight_max"),
        ({"schedule": "gaussian"}, "linear, cosine, cyclic, piecewise"),
        ({"num_train_examples": 0}, "num_train_examples"),
        ({"rampup_epochs": 0}, "rampup_epochs"),
        ({"buffer_dtype": "bfloat16"}, "float32, float16"),
    ],
)
def test_bad_hyperparameters_are_value_errors(kwargs, match):
    kwargs = {
        "lipschitz_weight": 0.0,
        "consistency_weight_max": 1.0,
        "num_train_examples": 8,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        SoTeacherModel(tiny_net(), **kwargs)


def test_unsupported_layer_fails_at_construction_unless_lipschitz_is_off():
    inputs = keras.Input((5,))
    net = keras.Model(
        inputs, keras.layers.Dense(NUM_CLASSES)(keras.layers.LayerNormalization()(inputs))
    )
    with pytest.raises(TypeError, match="LayerNormalization"):
        SoTeacherModel(net, 1e-5, 1.0, num_train_examples=8)
    SoTeacherModel(net, 0.0, 1.0, num_train_examples=8)


@pytest.mark.parametrize("shift", [-1, 1])
def test_index_outside_the_training_set_fails_before_the_step(shift):
    n = 20
    model = _model(n - 1 if shift > 0 else n)
    before = model.get_weights()
    x, targets = examples(n)
    targets["index"] = targets["index"] - (1 if shift < 0 else 0)
    dataset = tf.data.Dataset.from_tensor_slices((x, targets)).batch(n)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, num_train_examples="):
        model.fit(dataset, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_dataset_without_index_is_a_value_error_naming_it():
    x, targets = examples(20)
    dataset = tf.data.Dataset.from_tensor_slices((x, {"label": targets["label"]})).batch(8)
    with pytest.raises(ValueError, match="'index'"):
        _model(20).fit(dataset, epochs=1, verbose=0)


def test_scheduler_refuses_other_models():
    with pytest.raises(TypeError, match="SoTeacherModel"):
        ConsistencyWeightScheduler().set_model(StandardModel(tiny_net()))


@pytest.mark.parametrize("convolution", ["operator", "entrywise"])
def test_lipschitz_term_of_a_conv_net_follows_the_convolution_option(convolution, tmp_path):
    """Evaluation reports CE + λ_LR·ℓ_LR with the chosen convolution term; saving keeps it."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(hidden)
    backbone = keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(pooled))
    n, lipschitz_weight = 8, 0.1
    model = SoTeacherModel(
        backbone, lipschitz_weight, 1.0, num_train_examples=n, lipschitz_convolution=convolution
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6, 6, 2)).astype(np.float32)
    targets = {"label": np.arange(n) % NUM_CLASSES, "index": np.arange(n)}
    logits = backbone(x).numpy().astype(np.float64)
    cross_entropy = -np.log(_softmax(logits)[np.arange(n), targets["label"]]).mean()
    expected = cross_entropy + lipschitz_weight * float(
        lipschitz_upper_bound(backbone, convolution)
    )
    loss = model.evaluate(x, targets, batch_size=n, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert model.get_config()["lipschitz_convolution"] == convolution
    restored = assert_round_trip(model, tmp_path / "model.keras", x, targets)
    assert restored.lipschitz_convolution == convolution
