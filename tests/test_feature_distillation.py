"""Feature distillation: FitNets and AT terms, the teacher's cached targets, the students."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from tf_robust_distill import nets
from tf_robust_distill.data import teacher_cache
from tf_robust_distill.data.teacher_features import TeacherFeatures
from tf_robust_distill.losses.feature import (
    attention_map,
    attention_transfer_loss,
    hint_regression_loss,
)
from tf_robust_distill.objectives.feature_distillation import (
    AttentionTransferModel,
    FitNetsModel,
)

NUM_CLASSES = 3
NUM_EXAMPLES = 37
INPUT_SHAPE = (8, 8, 2)
STAGES = ("stage1", "stage2")
SPATIAL_SHAPES = ((8, 8), (4, 4))
TEACHER_WIDTHS = (5, 7)


def _conv_net(widths=(3, 4), seed=1):
    """Two conv stages (8x8, then 4x4 after pooling), pooled "features", "logits"; no BN."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for stage, filters in enumerate(widths, start=1):
        if stage > 1:
            x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_regularizer="l2",
            name=f"stage{stage}",
        )(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES, name="logits")(features))


def _teacher():
    return _conv_net(TEACHER_WIDTHS, seed=7)


def _inputs(seed=0, n=NUM_EXAMPLES):
    return np.random.default_rng(seed).normal(size=(n, *INPUT_SHAPE)).astype(np.float32)


def _dataset_of(x):
    return tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), np.int32)))


def _numpy_attention(feature_map):
    energy = (np.asarray(feature_map, np.float64) ** 2).sum(-1).reshape(len(feature_map), -1)
    return energy / np.linalg.norm(energy, axis=1, keepdims=True)


def _targets(x, teacher):
    """Labels, teacher probabilities at T = 4 and both kinds of teacher targets."""
    rng = np.random.default_rng(1)
    dataset = _dataset_of(x)
    features = TeacherFeatures.from_model(
        teacher, dataset, kind="features", num_examples=len(x), batch_size=16
    )
    attention = TeacherFeatures.from_model(
        teacher, dataset, kind="attention", stages=STAGES, num_examples=len(x), batch_size=16
    )
    return {
        "label": rng.integers(0, NUM_CLASSES, len(x)).astype(np.int32),
        "teacher_probs": special.softmax(teacher.predict(x, verbose=0) / 4.0, axis=1),
        features.target_key: features.values,
        attention.target_key: attention.values,
    }


def _data():
    x = _inputs()
    return x, _targets(x, _teacher())


MAKERS = {
    "fitnets": lambda beta=0.7: FitNetsModel(_conv_net(), TEACHER_WIDTHS[-1], beta),
    "at": lambda beta=30.0: AttentionTransferModel(
        _conv_net(), SPATIAL_SHAPES, beta, stages=STAGES
    ),
}


def _batches(x, targets, batch_size=16):
    return tf.data.Dataset.from_tensor_slices((x, targets)).batch(batch_size)


def _evaluate_loss(model, x, targets):
    return model.evaluate(_batches(x, targets, len(x)), verbose=0, return_dict=True)["loss"]


def test_hint_regression_loss_is_half_the_squared_distance():
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(size=(2, 6, 5))
    expected = 0.5 * ((teacher - student) ** 2).sum(1)
    np.testing.assert_allclose(hint_regression_loss(teacher, student), expected, rtol=1e-6)


def test_attention_maps_and_transfer_loss_match_numpy():
    rng = np.random.default_rng(0)
    student = [rng.normal(size=(4, 6, 6, 3)), rng.normal(size=(4, 3, 3, 5))]
    teacher = [rng.normal(size=(4, 6, 6, 7)), rng.normal(size=(4, 3, 3, 2))]
    maps_s = [attention_map(a.astype(np.float32)) for a in student]
    maps_t = [attention_map(a.astype(np.float32)) for a in teacher]
    for got, a in zip(maps_s, student, strict=True):
        np.testing.assert_allclose(got, _numpy_attention(a), rtol=1e-5)
    np.testing.assert_allclose(attention_map(3.0 * student[0]), maps_s[0], rtol=1e-5)
    expected = sum(
        ((_numpy_attention(s) - _numpy_attention(t)) ** 2).mean(1)
        for s, t in zip(student, teacher, strict=True)
    )
    np.testing.assert_allclose(attention_transfer_loss(maps_s, maps_t), expected, rtol=1e-5)


def test_attention_transfer_loss_refuses_unmatched_stages():
    maps = [tf.zeros((2, 16)), tf.zeros((2, 4))]
    with pytest.raises(ValueError, match="equal spatial sizes"):
        attention_transfer_loss(maps, [tf.zeros((2, 16)), tf.zeros((2, 9))])
    with pytest.raises(ValueError, match="one to one"):
        attention_transfer_loss(maps, maps[:1])


def test_bulk_inference_equals_numpy_from_the_teachers_layers():
    """On the package's cnn_small: its default stages and "features" layer, uneven batches."""
    keras.utils.set_random_seed(3)
    teacher = nets.get("cnn_small", 10, (28, 28, 1))
    x = np.random.default_rng(0).normal(size=(11, 28, 28, 1)).astype(np.float32)
    attention = TeacherFeatures.from_model(
        teacher, _dataset_of(x), kind="attention", num_examples=11, batch_size=4
    )
    stages = keras.Model(teacher.input, [teacher.get_layer(f"stage{i}").output for i in (1, 2, 3)])
    expected = np.concatenate([_numpy_attention(a) for a in stages.predict(x, verbose=0)], 1)
    assert attention.spatial_shapes == ((28, 28), (14, 14), (7, 7))
    assert attention.target_key == "teacher_attention"
    np.testing.assert_allclose(attention.values, expected, rtol=1e-4, atol=1e-7)
    features = TeacherFeatures.from_model(
        teacher, _dataset_of(x), kind="features", num_examples=11, batch_size=4
    )
    pooled = keras.Model(teacher.input, teacher.get_layer("features").output)
    np.testing.assert_allclose(features.values, pooled.predict(x, verbose=0), rtol=1e-5)
    assert features.target_key == "teacher_features"
    AttentionTransferModel(nets.get("cnn_small", 10, (28, 28, 1)), attention.spatial_shapes, 1.0)


def test_cache_hit_never_runs_the_teacher_and_refuses_another_teacher(tmp_path, monkeypatch):
    teacher, x = _teacher(), _inputs()
    path = tmp_path / "cache" / "attention.npz"
    kwargs = {"kind": "attention", "stages": STAGES, "num_examples": NUM_EXAMPLES}
    first = TeacherFeatures.from_model(teacher, _dataset_of(x), cache_path=path, **kwargs)

    def no_inference(*args, **kwargs):
        raise AssertionError("the teacher ran on cached targets")

    monkeypatch.setattr(teacher_cache, "bulk_inference", no_inference)
    cached = TeacherFeatures.from_model(teacher, _dataset_of(x), cache_path=path, **kwargs)
    np.testing.assert_array_equal(cached.values, first.values)
    assert cached.spatial_shapes == SPATIAL_SHAPES and cached.layers == STAGES
    with pytest.raises(ValueError, match="different teacher"):
        other_teacher = _conv_net(TEACHER_WIDTHS, seed=8)
        TeacherFeatures.from_model(other_teacher, _dataset_of(x), cache_path=path, **kwargs)
    with pytest.raises(ValueError, match="not its features"):
        TeacherFeatures.from_model(
            teacher, _dataset_of(x), kind="features", num_examples=NUM_EXAMPLES, cache_path=path
        )
    with pytest.raises(ValueError, match="holds 37 examples, the dataset has 40"):
        TeacherFeatures.load(path, num_examples=40)


def _extractor(model, names):
    backbone = model.backbone
    return keras.Model(backbone.input, [backbone.get_layer(name).output for name in names])


@pytest.mark.parametrize("name", ["fitnets", "at"])
def test_loss_is_kd_plus_beta_times_the_term_by_hand(name):
    x, targets = _data()
    model = MAKERS[name]()
    model.compile(optimizer="sgd")
    logits = model.backbone.predict(x, verbose=0).astype(np.float64)
    labels, teacher_probs = targets["label"], targets["teacher_probs"].astype(np.float64)
    student_probs = special.softmax(logits, axis=1)
    xent = -np.log(student_probs[np.arange(len(x)), labels])
    log_soft = special.log_softmax(logits / 4.0, axis=1)
    kl = (teacher_probs * (np.log(teacher_probs) - log_soft)).sum(1)
    kd = 0.5 * xent + 0.5 * 16.0 * kl
    if name == "fitnets":
        features = _extractor(model, ["features"]).predict(x, verbose=0)
        kernel, bias = (v.numpy() for v in model.regressor.weights)
        term = 0.5 * ((features @ kernel + bias - targets["teacher_features"]) ** 2).sum(1)
    else:
        stages = _extractor(model, STAGES).predict(x, verbose=0)
        student_maps = [_numpy_attention(a) for a in stages]
        teacher_maps = np.split(targets["teacher_attention"], [64], axis=1)
        term = sum(((s - t) ** 2).mean(1) for s, t in zip(student_maps, teacher_maps, strict=True))
    l2 = sum(float(v) for v in model.backbone.losses)
    expected = (kd + model.beta * term).mean() + l2
    assert term.mean() > 1e-3
    np.testing.assert_allclose(_evaluate_loss(model, x, targets), expected, rtol=1e-5)


def test_the_regressor_learns_from_the_hint_term_only():
    x, targets = _data()

    def regressor_change(beta):
        model = MAKERS["fitnets"](beta)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        weights = model.regressor.weights
        before = [v.numpy().copy() for v in weights]
        model.fit(_batches(x, targets), epochs=1, verbose=0)
        return max(np.abs(v.numpy() - b).max() for v, b in zip(weights, before, strict=True))

    assert regressor_change(0.0) == 0.0
    assert regressor_change(0.7) > 1e-4


@pytest.mark.parametrize("name", ["fitnets", "at"])
def test_one_device_and_two_replicas_agree(two_cpu_strategy, name):
    """37 examples in batches of 16: the last batch splits unevenly over two replicas."""
    x, targets = _data()

    def train(strategy):
        with strategy.scope():
            model = MAKERS[name]()
            model.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        history = model.fit(_batches(x, targets), epochs=1, verbose=0).history
        return model.get_weights(), history

    weights_one, history_one = train(tf.distribute.get_strategy())
    weights_two, history_two = train(two_cpu_strategy)
    for a, b in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(history_one["loss"], history_two["loss"], rtol=1e-5)


@pytest.mark.parametrize("name", ["fitnets", "at"])
def test_jit_compile_gives_the_same_weights(name):
    x, targets = _data()

    def train(jit):
        model = MAKERS[name]()
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit)
        model.fit(_batches(x, targets), epochs=1, verbose=0)
        return model.get_weights()

    for a, b in zip(train(False), train(True), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_construction_arguments_are_refused():
    teacher, dataset = _teacher(), _dataset_of(_inputs())
    with pytest.raises(ValueError, match="kind must be one of features, attention"):
        TeacherFeatures.from_model(teacher, dataset, kind="hints", num_examples=NUM_EXAMPLES)
    with pytest.raises(ValueError, match="stages only apply"):
        TeacherFeatures.from_model(
            teacher, dataset, kind="features", stages=STAGES, num_examples=NUM_EXAMPLES
        )
    with pytest.raises(ValueError, match="'stage3'"):
        TeacherFeatures.from_model(teacher, dataset, kind="attention", num_examples=NUM_EXAMPLES)
    with pytest.raises(ValueError, match="expected num_examples=40"):
        TeacherFeatures.from_model(teacher, dataset, kind="features", num_examples=40)
    with pytest.raises(ValueError, match="beta"):
        FitNetsModel(_conv_net(), 7, beta=-1.0)
    with pytest.raises(ValueError, match="teacher_feature_dim"):
        FitNetsModel(_conv_net(), 0, beta=1.0)
    with pytest.raises(ValueError, match="no layer named 'stage3'"):
        AttentionTransferModel(_conv_net(), SPATIAL_SHAPES + ((2, 2),), 1.0)
    with pytest.raises(ValueError, match="equal spatial sizes"):
        AttentionTransferModel(_conv_net(), ((8, 8), (2, 2)), 1.0, stages=STAGES)


@pytest.mark.parametrize("name,key", [("fitnets", "teacher_features"), ("at", "teacher_attention")])
def test_missing_or_misshaped_teacher_targets_are_refused_before_training(name, key):
    x, targets = _data()
    model = MAKERS[name]()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [w.copy() for w in model.get_weights()]
    without = {k: v for k, v in targets.items() if k != key}
    with pytest.raises(ValueError, match=f"'{key}'"):
        model.fit(_batches(x, without), epochs=1, verbose=0)
    misshaped = {**targets, key: targets[key][:, :-1]}
    with pytest.raises(ValueError, match=f"targets\\['{key}'\\] of shape"):
        model.fit(_batches(x, misshaped), epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
