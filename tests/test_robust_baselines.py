"""Baselines of the robust distillation paper: Group DRO, AdaMargin, AdaAlpha."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import NUM_CLASSES, batches, examples, tiny_net

from tf_robust_distill import losses
from tf_robust_distill.objectives.adaptive import AdaAlphaModel, AdaMarginModel
from tf_robust_distill.objectives.group_dro import GroupDROModel
from tf_robust_distill.objectives.robust import MultiplierUpdate


def _log_softmax(f):
    f = f - f.max(axis=1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=1, keepdims=True))


def _memberships(targets, distill):
    return targets["teacher_probs"] if distill else np.eye(NUM_CLASSES)[targets["label"]]


@pytest.mark.parametrize("distill", [False, True])
def test_group_dro_step_follows_sagawa_algorithm_1(distill):
    """q ∝ q exp(η L_g) from the batch's per-class losses, then SGD on Σ_g q_g L_g."""
    x, targets = examples(n=16)
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


def test_group_dro_logs_q_when_fit_is_given_a_callback_list():
    model = GroupDROModel(tiny_net(), step_size=0.7)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    callbacks = keras.callbacks.CallbackList(add_history=True, model=model, epochs=1)
    history = model.fit(batches(), epochs=1, verbose=0, callbacks=callbacks).history
    q = model.multipliers.current()
    assert np.ptp(q) > 1e-3, "the test needs multipliers that moved"
    np.testing.assert_allclose([history[f"lambda_{j}"][0] for j in range(NUM_CLASSES)], q)


def test_group_dro_evaluation_leaves_q_alone():
    model = GroupDROModel(tiny_net(), step_size=0.7)
    model.compile(optimizer="sgd")
    model.evaluate(batches(), verbose=0)
    np.testing.assert_allclose(model.multipliers.current(), np.full(NUM_CLASSES, 1 / 3), rtol=1e-6)


def test_group_dro_with_validation_updates_q_from_the_callback_only():
    x_val, val_targets = examples(n=30, seed=5)
    validation = tf.data.Dataset.from_tensor_slices((x_val, val_targets)).batch(8)
    model = GroupDROModel(tiny_net(), step_size=0.9, use_validation=True)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    callback = MultiplierUpdate(validation, every_n_steps=2)
    model.fit(batches(n=64), epochs=1, verbose=0, callbacks=[callback])  # updates at steps 0, 2

    predictions = model.backbone(x_val).numpy().argmax(axis=1)
    errors = np.array(
        [np.mean(predictions[val_targets["label"] == j] != j) for j in range(NUM_CLASSES)]
    )
    tilde = np.exp(2 * 0.9 * errors)
    np.testing.assert_allclose(model.multipliers.current(), tilde / tilde.sum(), rtol=1e-5)


def _per_example(model, targets, logits):
    targets = {key: tf.constant(value) for key, value in targets.items()}
    return model.per_example_loss(targets, tf.constant(logits)).numpy()


@pytest.mark.parametrize(
    ("model_class", "loss"),
    [(AdaMarginModel, losses.adamargin_loss), (AdaAlphaModel, losses.adaalpha_loss)],
)
def test_adaptive_students_minimize_their_loss(model_class, loss):
    x, targets = examples(n=20)
    logits = tiny_net()(x).numpy()
    expected = loss(targets["label"], targets["teacher_probs"], logits).numpy()
    np.testing.assert_array_equal(_per_example(model_class(tiny_net()), targets, logits), expected)


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
