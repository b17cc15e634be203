"""Baselines of the robust distillation paper: Group DRO, AdaMargin, AdaAlpha."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import NUM_CLASSES, tiny_net

from tf_robust_distill.objectives.adaptive import AdaAlphaModel, AdaMarginModel, adamargin_loss
from tf_robust_distill.objectives.group_dro import GroupDROModel
from tf_robust_distill.objectives.robust import MultiplierUpdate


def _data(n=70, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, n).astype(np.int32)
    teacher_probs = rng.dirichlet(np.ones(NUM_CLASSES), size=n).astype(np.float32)
    return x, {"label": labels, "teacher_probs": teacher_probs}


def _dataset(batch_size=16, **kwargs):
    return tf.data.Dataset.from_tensor_slices(_data(**kwargs)).batch(batch_size)


def _log_softmax(f):
    f = f - f.max(axis=1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=1, keepdims=True))


def _memberships(targets, distill):
    return targets["teacher_probs"] if distill else np.eye(NUM_CLASSES)[targets["label"]]


@pytest.mark.parametrize("distill", [False, True])
def test_group_dro_step_follows_sagawa_algorithm_1(distill):
    """q ∝ q exp(η L_g) from the batch's per-class losses, then SGD on Σ_g q_g L_g."""
    x, targets = _data(n=16)
    model = GroupDROModel(tiny_net(), distill=distill, step_size=0.7)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(tf.data.Dataset.from_tensors((x, targets)), epochs=1, verbose=0).history

    backbone = tiny_net()
    memberships = _memberships(targets, distill)
    xent = -_log_softmax(backbone(x).numpy().astype(np.float64))
    group_losses = (memberships * xent).sum(axis=0) / memberships.sum(axis=0)
    tilde = np.full(NUM_CLASSES, 1 / NUM_CLASSES) * np.exp(0.7 * group_losses)
    q = tilde / tilde.sum()
    np.testing.assert_allclose(model.multipliers.current(), q, rtol=1e-5)
    np.testing.assert_allclose(history["loss"], [q @ group_losses], rtol=1e-5)

    with tf.GradientTape() as tape:
        log_probs = tf.nn.log_softmax(backbone(x))
        sums = tf.reduce_sum(memberships.astype(np.float32) * -log_probs, axis=0)
        objective = tf.reduce_sum(q.astype(np.float32) * sums / memberships.sum(axis=0))
    grads = tape.gradient(objective, backbone.trainable_variables)
    for variable, grad, trained in zip(
        backbone.trainable_variables, grads, model.backbone.trainable_variables, strict=True
    ):
        np.testing.assert_allclose(trained, variable.numpy() - 0.5 * grad.numpy(), atol=1e-6)


def test_group_dro_evaluation_leaves_q_alone():
    model = GroupDROModel(tiny_net(), step_size=0.7)
    model.compile(optimizer="sgd")
    model.evaluate(_dataset(), verbose=0)
    np.testing.assert_allclose(model.multipliers.current(), np.full(NUM_CLASSES, 1 / 3), rtol=1e-6)


def test_group_dro_with_validation_updates_q_from_the_callback_only():
    x_val, val_targets = _data(n=30, seed=5)
    validation = tf.data.Dataset.from_tensor_slices((x_val, val_targets)).batch(8)
    model = GroupDROModel(tiny_net(), step_size=0.9, use_validation=True)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    callback = MultiplierUpdate(validation, every_n_steps=2)
    model.fit(_dataset(n=64), epochs=1, verbose=0, callbacks=[callback])  # updates at steps 0, 2

    predictions = model.backbone(x_val).numpy().argmax(axis=1)
    errors = np.array(
        [np.mean(predictions[val_targets["label"] == j] != j) for j in range(NUM_CLASSES)]
    )
    tilde = np.exp(2 * 0.9 * errors)
    np.testing.assert_allclose(model.multipliers.current(), tilde / tilde.sum(), rtol=1e-5)


def _teacher_margin(labels, probs):
    """γ_avg(y, p) = p_y − (1/(m−1)) Σ_{y'≠y} p_{y'}, one example at a time."""
    m = probs.shape[1]
    return np.array(
        [
            p[y] - sum(p[k] for k in range(m) if k != y) / (m - 1)
            for y, p in zip(labels, probs, strict=True)
        ]
    )


def _per_example(model, targets, logits):
    targets = {key: tf.constant(value) for key, value in targets.items()}
    return model.per_example_loss(targets, tf.constant(logits)).numpy()


def test_adamargin_loss_matches_transcription():
    x, targets = _data(n=20)
    logits = tiny_net()(x).numpy().astype(np.float64)
    labels, probs = targets["label"], targets["teacher_probs"].astype(np.float64)
    margin = 1.0 - _teacher_margin(labels, probs)
    shifted = logits - margin[:, None] * np.eye(NUM_CLASSES)[labels]
    expected = -(probs * _log_softmax(shifted)).sum(axis=1)
    model = AdaMarginModel(tiny_net())
    np.testing.assert_allclose(
        _per_example(model, targets, logits.astype(np.float32)), expected, rtol=1e-5
    )


def test_adamargin_minimizer_boosts_the_label_by_the_margin():
    """softmax(f) ∝ p ⊙ exp(δ e_y) has zero gradient: xent's minimizer on shifted logits."""
    _, targets = _data(n=10)
    labels, probs = targets["label"], targets["teacher_probs"]
    margin = 1.0 - _teacher_margin(labels, probs)
    logits = tf.Variable(
        np.log(probs) + margin[:, None] * np.eye(NUM_CLASSES)[labels], dtype=tf.float32
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(adamargin_loss(labels, probs, logits))
    np.testing.assert_allclose(tape.gradient(loss, logits), 0.0, atol=1e-6)


def test_adaalpha_loss_matches_transcription():
    x, targets = _data(n=20)
    logits = tiny_net()(x).numpy().astype(np.float64)
    labels, probs = targets["label"], targets["teacher_probs"].astype(np.float64)
    mix = np.maximum(_teacher_margin(labels, probs), 0.0)
    assert 0 < np.count_nonzero(mix) < len(mix), "the data should exercise both branches"
    log_probs = _log_softmax(logits)
    hard = -log_probs[np.arange(20), labels]
    soft = -(probs * log_probs).sum(axis=1)
    model = AdaAlphaModel(tiny_net())
    np.testing.assert_allclose(
        _per_example(model, targets, logits.astype(np.float32)),
        (1 - mix) * hard + mix * soft,
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "model",
    [
        lambda: GroupDROModel(
            tiny_net(),
            distill=True,
            step_size=0.3,
            use_validation=True,
            validation_labels="teacher",
            risk="xent",
        ),
        lambda: AdaMarginModel(tiny_net()),
        lambda: AdaAlphaModel(tiny_net()),
    ],
    ids=["group_dro", "adamargin", "adaalpha"],
)
def test_config_round_trip(model):
    model = model()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_size": -1.0}, "step_size"),
        ({"risk": "hinge"}, "risk"),
        ({"validation_labels": "soft"}, "validation_labels"),
        ({"validation_labels": "teacher"}, "distill=True"),
    ],
)
def test_group_dro_bad_hyperparameters_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupDROModel(tiny_net(), **kwargs)
