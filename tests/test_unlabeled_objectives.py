"""SLaM, robust-loss, weighted and VID students: losses, replicas, saving, weight updates."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from tf_robust_distill import estimators
from tf_robust_distill.objectives.slam import RobustLossModel, SLaMModel
from tf_robust_distill.objectives.standard import StandardModel
from tf_robust_distill.objectives.vid import VIDModel
from tf_robust_distill.objectives.weighted import (
    DebiasingWeightUpdate,
    ExampleWeights,
    WeightedModel,
)

NUM_CLASSES = 3
NUM_EXAMPLES = 70
LABELED = np.arange(NUM_EXAMPLES) < 20
VALIDATION = np.arange(4, 20)
UNLABELED = np.arange(20, NUM_EXAMPLES)
TEACHER_DIM = 4


def _net(seed=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    features = keras.layers.Dense(8, activation="relu", kernel_regularizer="l2", name="features")(
        inputs
    )
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES, name="logits")(features))


def _data(seed=0):
    """A ∪ V (labeled, one-hot targets) then U (teacher-labeled), with every target key."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(NUM_EXAMPLES, 5)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, NUM_EXAMPLES).astype(np.int32)
    teacher = rng.dirichlet(np.ones(NUM_CLASSES), NUM_EXAMPLES).astype(np.float32)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    k = rng.integers(1, NUM_CLASSES + 1, NUM_EXAMPLES)
    targets = {
        "label": labels,
        "teacher_probs": np.where(LABELED[:, None], one_hot, teacher),
        "labeled": LABELED.astype(np.float32),
        "alpha": np.where(LABELED, 0.0, rng.uniform(0.5, 1.0, NUM_EXAMPLES)).astype(np.float32),
        "topk": np.where(LABELED[:, None], 0.0, estimators.top_k_mask(teacher, k)),
        "weight": np.where(LABELED, 1.0, rng.uniform(0.2, 1.0, NUM_EXAMPLES)).astype(np.float32),
        "index": np.arange(NUM_EXAMPLES, dtype=np.int64),
        "teacher_features": rng.normal(size=(NUM_EXAMPLES, TEACHER_DIM)).astype(np.float32),
    }
    return x, targets, teacher


def _dataset(batch_size=16, targets=None):
    x, default_targets, _ = _data()
    return tf.data.Dataset.from_tensor_slices((x, targets or default_targets)).batch(batch_size)


def _debiasing_update(every_n_epochs=1):
    x, targets, teacher = _data()
    return DebiasingWeightUpdate(
        x[VALIDATION],
        targets["label"][VALIDATION],
        teacher[VALIDATION],
        x[UNLABELED],
        UNLABELED,
        teacher[UNLABELED],
        every_n_epochs=every_n_epochs,
    )


MAKERS = {
    "slam": lambda: SLaMModel(_net(), use_fidelity_weights=True),
    "slam_normalized_taylor": lambda: SLaMModel(_net(), normalize=True, base_loss="taylor"),
    "robust_poly": lambda: RobustLossModel(_net(), base_loss="poly", use_fidelity_weights=True),
    "weighted": lambda: WeightedModel(_net(), NUM_EXAMPLES, use_fidelity_weights=True),
    "vid": lambda: VIDModel(_net(), TEACHER_DIM, coefficient=0.5),
    "weighted_vid": lambda: VIDModel(_net(), TEACHER_DIM, num_train_examples=NUM_EXAMPLES),
}


def _has_debiasing_weights(name):
    return name in ("weighted", "weighted_vid")


def _evaluate_loss(model, x, targets):
    dataset = tf.data.Dataset.from_tensors((x, targets))
    return model.evaluate(dataset, verbose=0, return_dict=True)["loss"]


def _l2(model):
    return sum(float(term) for term in model.backbone.losses)


def _softmax(logits):
    return special.softmax(np.asarray(logits, np.float64), axis=1)


def _mix(f, alpha, topk, normalize):
    k = topk.sum(1, keepdims=True)
    scale = np.where(k > 1, k - 1, np.inf) if normalize else 1.0
    return alpha[:, None] * f + (1 - alpha[:, None]) * topk * (1 - f) / scale


@pytest.mark.parametrize(
    "kwargs",
    [
        {"use_fidelity_weights": True},
        {"normalize": True, "base_loss": "taylor", "degree": 3},
        {"base_loss": "poly", "epsilon": -0.5, "use_fidelity_weights": True},
    ],
)
def test_slam_model_loss_matches_eq2_transcription(kwargs):
    """Eq. (2) / Algorithm 1 (+ App. D.4 weights, App. D.6 losses): ℓ(y, f) on A ∪ V,
    ℓ(y, mix(f)) on U."""
    x, targets, _ = _data()
    model = SLaMModel(_net(), **kwargs)
    model.compile(optimizer="sgd")
    f = _softmax(model.predict(x, verbose=0))
    mixed = _mix(f, targets["alpha"], targets["topk"], kwargs.get("normalize", False))
    prediction = np.where(LABELED[:, None], f, mixed)
    y = targets["teacher_probs"]
    base = kwargs.get("base_loss", "xent")
    if base == "xent":
        per_example = -(y * np.log(prediction)).sum(1)
    elif base == "taylor":
        per_example = (y * sum((1 - prediction) ** j / j for j in (1, 2, 3))).sum(1)
    else:
        per_example = -(y * np.log(prediction)).sum(1) - 0.5 * (1 - (y * prediction).sum(1))
    if kwargs.get("use_fidelity_weights"):
        per_example *= targets["weight"]
    expected = per_example.mean() + _l2(model)
    np.testing.assert_allclose(_evaluate_loss(model, x, targets), expected, rtol=1e-5)


def test_robust_loss_model_is_taylor_cross_entropy_on_every_example():
    x, targets, _ = _data()
    model = RobustLossModel(_net(), base_loss="taylor", degree=2, use_fidelity_weights=True)
    model.compile(optimizer="sgd")
    f = _softmax(model.predict(x, verbose=0))
    taylor = (targets["teacher_probs"] * ((1 - f) + (1 - f) ** 2 / 2)).sum(1)
    expected = (targets["weight"] * taylor).mean() + _l2(model)
    np.testing.assert_allclose(_evaluate_loss(model, x, targets), expected, rtol=1e-5)


def test_weighted_model_loss_is_the_weighted_empirical_risk_of_algorithm_1():
    x, targets, _ = _data()
    model = WeightedModel(_net(), NUM_EXAMPLES, use_fidelity_weights=True)
    model.compile(optimizer="sgd")
    debiasing = np.random.default_rng(1).uniform(0.1, 1.0, len(UNLABELED))
    model.debiasing_weights.assign_at(UNLABELED, debiasing)
    order = np.random.default_rng(2).permutation(NUM_EXAMPLES)
    shuffled = {key: value[order] for key, value in targets.items()}
    f = _softmax(model.predict(x[order], verbose=0))
    w = np.ones(NUM_EXAMPLES)
    w[UNLABELED] = debiasing
    xent = -(shuffled["teacher_probs"] * np.log(f)).sum(1)
    expected = (w[order] * shuffled["weight"] * xent).mean() + _l2(model)
    np.testing.assert_allclose(_evaluate_loss(model, x[order], shuffled), expected, rtol=1e-5)


def test_vid_model_loss_matches_transcription_of_eqs_4_to_6():
    x, targets, _ = _data()
    model = VIDModel(_net(), TEACHER_DIM, coefficient=0.7, initial_variance=2.0)
    model.compile(optimizer="sgd")
    features = keras.Model(model.backbone.input, model.backbone.get_layer("features").output)
    s = features.predict(x, verbose=0).astype(np.float64)
    kernel, bias = (v.numpy() for v in model.head.mean.weights)
    mean = s @ kernel + bias
    variance = np.log1p(np.exp(model.head.variance_parameter.numpy().astype(np.float64))) + 1e-5
    np.testing.assert_allclose(variance, 2.0, rtol=1e-5)
    t = targets["teacher_features"]
    nll = (0.5 * np.log(variance) + (t - mean) ** 2 / (2 * variance)).sum(1)
    xent = -(targets["teacher_probs"] * np.log(_softmax(model.predict(x, verbose=0)))).sum(1)
    expected = (xent + 0.7 * nll).mean() + _l2(model)
    np.testing.assert_allclose(_evaluate_loss(model, x, targets), expected, rtol=1e-5)


def test_vid_term_trains_the_head_and_the_student_features():
    """Only the VID term reaches the head; with it the student's features move towards t."""
    model = VIDModel(_net(), TEACHER_DIM, coefficient=1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    variables = [model.head.variance_parameter, model.backbone.get_layer("features").kernel]
    before = [v.numpy().copy() for v in variables]
    model.fit(_dataset(), epochs=1, verbose=0)
    for b, v in zip(before, variables, strict=True):
        assert np.abs(v.numpy() - b).max() > 1e-4


@pytest.mark.parametrize("name", ["slam", "weighted", "vid"])
def test_one_device_and_two_replicas_agree(two_cpu_strategy, name):
    """70 examples in batches of 16 (uneven last batch), two epochs; the debiasing weights
    are re-estimated by the callback before training and after each epoch."""

    def train(strategy):
        with strategy.scope():
            model = MAKERS[name]()
            model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        callbacks = [_debiasing_update()] if _has_debiasing_weights(name) else []
        history = model.fit(_dataset(), epochs=2, verbose=0, callbacks=callbacks).history
        return model.get_weights(), history

    weights_one, history_one = train(tf.distribute.get_strategy())
    weights_two, history_two = train(two_cpu_strategy)
    for a, b in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(history_one[key], history_two[key], rtol=1e-5)


def test_debiasing_update_follows_the_student_and_keeps_labeled_weights_at_one():
    x, targets, teacher = _data()
    model = WeightedModel(_net(), NUM_EXAMPLES)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    update = _debiasing_update()
    update.set_model(model)

    def estimate_and_check():
        update.update()
        weights = model.debiasing_weights.values.numpy()
        expected = estimators.debiasing_weights(
            teacher[VALIDATION],
            _softmax(model.predict(x[VALIDATION], verbose=0)),
            targets["label"][VALIDATION],
            teacher[UNLABELED],
            _softmax(model.predict(x[UNLABELED], verbose=0)),
        )
        np.testing.assert_allclose(weights[UNLABELED], expected, rtol=1e-6)
        np.testing.assert_array_equal(weights[LABELED], 1.0)
        return weights

    before = estimate_and_check()
    model.fit(_dataset(), epochs=3, verbose=0)
    after = estimate_and_check()
    assert np.abs(after - before).max() > 1e-3


@pytest.mark.parametrize("every_n_epochs,expected_updates", [(None, 1), (1, 4), (2, 2)])
def test_debiasing_update_runs_before_training_and_every_n_epochs(
    monkeypatch, every_n_epochs, expected_updates
):
    model = WeightedModel(_net(), NUM_EXAMPLES)
    model.compile(optimizer="sgd")
    update = _debiasing_update(every_n_epochs)
    calls = []
    monkeypatch.setattr(update, "update", lambda: calls.append(int(model.optimizer.iterations)))
    model.fit(_dataset(), epochs=3, verbose=0, callbacks=[update])
    assert len(calls) == expected_updates
    assert calls[0] == 0


def _op_types(function, *args):
    """Op types of the graph `function` traces, its nested functions' (e.g. cond) included."""
    graph_def = tf.function(function).get_concrete_function(*args).graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for nested in graph_def.library.function:
        types.update(node.op for node in nested.node_def)
    return types


def _asserting(x):
    tf.debugging.assert_non_negative(x)


def test_slam_train_step_carries_no_assertions():
    assert "Assert" in _op_types(_asserting, tf.TensorSpec([None], tf.float32))
    model = MAKERS["slam"]()
    model.compile(optimizer="sgd")
    dataset = _dataset()
    model.fit(dataset.take(1), epochs=1, verbose=0)
    assert "Assert" not in _op_types(model.train_step, dataset.element_spec)


@pytest.mark.parametrize(
    "name,key",
    [
        ("slam", "topk"),
        ("slam", "labeled"),
        ("slam", "weight"),
        ("robust_poly", "weight"),
        ("weighted", "index"),
        ("vid", "teacher_features"),
        ("weighted_vid", "index"),
    ],
)
def test_missing_target_key_is_a_value_error_naming_it(name, key):
    _, targets, _ = _data()
    model = MAKERS[name]()
    model.compile(optimizer="sgd")
    partial = {k: v for k, v in targets.items() if k != key}
    with pytest.raises(ValueError, match=f"'{key}'"):
        model.fit(_dataset(targets=partial), epochs=1, verbose=0)


def test_vid_refuses_teacher_features_of_another_width_before_training():
    _, targets, _ = _data()
    model = MAKERS["vid"]()
    model.compile(optimizer="sgd")
    before = [w.copy() for w in model.get_weights()]
    narrow = {**targets, "teacher_features": targets["teacher_features"][:, :-1]}
    with pytest.raises(ValueError, match=r"targets\['teacher_features'\] of shape \[batch, 4\]"):
        model.fit(_dataset(targets=narrow), epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def _featureless_net():
    inputs = keras.Input((5,))
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES)(inputs))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: SLaMModel(_net(), base_loss="mse"), "base_loss"),
        (lambda: SLaMModel(_net(), base_loss="taylor", degree=0), "degree"),
        (lambda: RobustLossModel(_net(), base_loss="poly", epsilon=-2.0), "epsilon"),
        (lambda: WeightedModel(_net(), 0), "num_examples"),
        (lambda: WeightedModel(_net(), 7.5), "num_examples"),
        (lambda: VIDModel(_net(), TEACHER_DIM, coefficient=-1.0), "coefficient"),
        (lambda: VIDModel(_net(), 0), "teacher_feature_dim"),
        (lambda: VIDModel(_net(), TEACHER_DIM, min_variance=0.0), "min_variance"),
        (lambda: VIDModel(_featureless_net(), TEACHER_DIM), "'features'"),
        (lambda: DebiasingWeightUpdate(*_debiasing_args(), every_n_epochs=0), "every_n_epochs"),
        (lambda: DebiasingWeightUpdate(*_debiasing_args(), confidence="cut"), "confidence"),
        (lambda: DebiasingWeightUpdate(*_debiasing_args()[:4], UNLABELED[1:], _data()[2]), "rows"),
    ],
)
def test_bad_hyperparameters_are_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _debiasing_args():
    x, targets, teacher = _data()
    return (
        x[VALIDATION],
        targets["label"][VALIDATION],
        teacher[VALIDATION],
        x[UNLABELED],
        UNLABELED,
        teacher[UNLABELED],
    )


@pytest.mark.parametrize(
    "index,weights,message",
    [
        ([0, 70], [0.5, 0.5], r"\[0, 70\)"),
        ([3, 3], [0.5, 0.5], "repeat"),
        ([1, 2], [0.5, -0.1], "non-negative"),
        ([1, 2], [0.5], "shape"),
    ],
)
def test_example_weights_reject_bad_assignments(index, weights, message):
    table = ExampleWeights(NUM_EXAMPLES)
    with pytest.raises(ValueError, match=message):
        table.assign_at(np.array(index), np.array(weights))
    np.testing.assert_array_equal(table.values.numpy(), 1.0)


def test_debiasing_update_needs_a_model_with_debiasing_weights():
    model = SLaMModel(_net())
    model.compile(optimizer="sgd")
    with pytest.raises(TypeError, match="debiasing weights"):
        model.fit(_dataset(), epochs=1, verbose=0, callbacks=[_debiasing_update()])


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
@pytest.mark.parametrize(
    "make",
    [
        lambda t: StandardModel(_net(), distill=True, temperature=t),
        lambda t: WeightedModel(_net(), NUM_EXAMPLES, temperature=t),
        lambda t: RobustLossModel(_net(), base_loss="xent", temperature=t),
        lambda t: SLaMModel(_net(), temperature=t),
    ],
    ids=["vanilla", "weighted", "robust_loss", "slam"],
)
def test_students_divide_their_logits_by_the_temperature(make, temperature):
    """Weighted paper §1 / SLaM Remark 4.1: −Σ_c y_c log softmax(f/T)_c (no T² factor); SLaM
    mixes softmax(f/T) with α(x), top-k(x): transcribed from SLaM eq. (2) unnormalized."""
    _, targets, _ = _data()
    model = make(temperature)
    logits = np.random.default_rng(5).normal(size=(NUM_EXAMPLES, NUM_CLASSES)) * 3
    log_probs = special.log_softmax(logits / temperature, axis=1)
    if isinstance(model, SLaMModel):
        probs, labeled = np.exp(log_probs), targets["labeled"][:, None] > 0.5
        topk = np.where(labeled, 1.0, targets["topk"])
        alpha = np.where(labeled, 1.0, targets["alpha"][:, None])
        log_probs = np.log(alpha * probs + (1 - alpha) * topk * (1 - probs))
    expected = -(targets["teacher_probs"] * log_probs).sum(axis=1)
    tensors = {key: tf.constant(value) for key, value in targets.items()}
    loss = model.per_example_loss(tensors, tf.constant(logits, tf.float32)).numpy()
    np.testing.assert_allclose(loss, expected, rtol=2e-5, atol=1e-5)
    assert model.get_config()["temperature"] == temperature
