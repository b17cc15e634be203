"""The robust+SLaM student: margin-based DRO (λ on V, true labels) on SLaM-mixed teacher labels."""

import types

import every_objective
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from support.round_trip import assert_round_trip

from tf_robust_distill import losses, objectives
from tf_robust_distill.objectives import registry
from tf_robust_distill.objectives.robust_slam import RobustSLaMModel, robust_slam_loss
from tf_robust_distill.pipeline.unlabeled import trial

NUM_CLASSES = every_objective.NUM_CLASSES
LAMBDA = np.array([0.6, 0.1, 0.3])


def _model(step_size=1.0, **kwargs):
    return registry.build(
        "robust_slam",
        every_objective.mlp(),
        role=registry.UNLABELED_STUDENT,
        derived={"class_priors": every_objective.teacher_priors()},
        step_size=step_size,
        **kwargs,
    )


def _numpy_loss(targets, logits, multipliers, priors, normalize):
    """−Σ_y p_y log mix(q)_y, q = softmax(f − log(λ/π̂)) (Wang et al. eq. (9)), mix of SLaM
    eq. (1) (normalize) or App. B; α = 1 and an all-ones top-k on labeled rows."""
    labeled = targets["labeled"] > 0.5
    alpha = np.where(labeled, 1.0, targets["alpha"])[:, None]
    topk = np.where(labeled[:, None], 1.0, targets["topk"])
    q = special.softmax(logits.astype(np.float64) - np.log(multipliers / priors), axis=1)
    noise = (1.0 - alpha) * topk * (1.0 - q)
    if normalize:
        k = topk.sum(axis=1, keepdims=True)
        noise = np.where(k > 1, noise / np.maximum(k - 1.0, 1.0), 0.0)
    mixed = alpha * q + noise
    return -np.sum(targets["teacher_probs"] * np.log(mixed), axis=1)


def _batch():
    x, targets = every_objective.data()
    return x, {key: tf.constant(value) for key, value in targets.items()}


def _with_multipliers(model, multipliers):
    model.multipliers.log_multipliers.assign(np.log(multipliers).astype(np.float32))
    return model


@pytest.mark.parametrize("normalize", [False, True])
def test_loss_is_the_margin_loss_of_the_slam_mixed_adjusted_prediction(normalize):
    x, targets = _batch()
    model = _with_multipliers(_model(normalize=normalize), LAMBDA)
    logits = model.backbone(x)
    loss = model.per_example_loss(targets, logits).numpy()
    expected = _numpy_loss(
        every_objective.data()[1], logits.numpy(), LAMBDA, model.class_priors.numpy(), normalize
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def test_with_alpha_one_it_is_the_robust_loss_on_the_teacher_labels():
    x, targets = _batch()
    targets["alpha"] = tf.ones_like(targets["alpha"])
    model = _with_multipliers(_model(), LAMBDA)
    robust = _with_multipliers(
        objectives.RobustModel(
            model.backbone,
            distill=True,
            class_priors=every_objective.teacher_priors(),
            validation_labels="one_hot",
        ),
        LAMBDA,
    )
    logits = model.backbone(x)
    np.testing.assert_allclose(
        model.per_example_loss(targets, logits), robust.per_example_loss(targets, logits), rtol=1e-6
    )


def test_with_uniform_multipliers_it_is_slam_on_balanced_logits():
    """β uniform: c ∝ 1/π̂, so the loss is SLaM's on the logit-adjusted f + log π̂."""
    x, targets = _batch()
    model = _model()
    logits = model.backbone(x)
    priors = every_objective.teacher_priors()
    alpha, topk = objectives.targets.slam_mixing(targets)
    balanced = losses.slam_loss(targets["teacher_probs"], logits + np.log(priors), alpha, topk)
    np.testing.assert_allclose(model.per_example_loss(targets, logits), balanced, rtol=1e-5)


def test_labeled_rows_take_the_margin_loss_of_their_labels():
    x, targets = _batch()
    logits = every_objective.mlp()(x)
    costs = LAMBDA / every_objective.teacher_priors()
    ones = tf.ones_like(targets["alpha"])
    mixed = robust_slam_loss(targets["teacher_probs"], logits, costs, ones, targets["topk"])
    margin = losses.margin_loss(targets["teacher_probs"], logits, costs)
    np.testing.assert_allclose(mixed, margin, rtol=1e-6)


def test_fit_takes_lambda_steps_on_the_true_validation_labels():
    """One update, before the first step: λ = softmax(γ R(f^0)), R the 0-1 risks of eq. (10)."""
    model = _model(step_size=2.0)
    validation = every_objective.validation()
    x_val, targets_val = every_objective.data(24, seed=5)
    predicted = model.backbone(x_val).numpy().argmax(axis=1)
    labels = targets_val["label"]
    risks = np.array([np.mean(predicted[labels == j] != j) for j in range(NUM_CLASSES)])
    assert np.ptp(risks) > 0, "the test needs unequal risks"
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    update = objectives.MultiplierUpdate(validation, every_n_steps=1000)
    history = model.fit(every_objective.dataset(), epochs=1, verbose=0, callbacks=[update])
    np.testing.assert_allclose(model.multipliers.current(), special.softmax(2.0 * risks), rtol=1e-5)
    assert np.isfinite(history.history["loss"]).all()


def test_save_load_round_trip(tmp_path):
    model, _ = every_objective.train("robust_slam", epochs=1)
    assert np.ptp(model.multipliers.current()) > 1e-3
    x, targets = every_objective.data(every_objective.BATCH_SIZE, seed=7)
    loaded = assert_round_trip(model, str(tmp_path / "robust_slam.keras"), x, targets)
    assert loaded.normalize is False and loaded.validation_labels == "one_hot"


def _train(strategy):
    with strategy.scope():
        model = _model(step_size=2.0)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    # 35 examples in batches of 16: the last batch splits unevenly over two replicas.
    train = tf.data.Dataset.from_tensor_slices(every_objective.data(35)).batch(16)
    update = objectives.MultiplierUpdate(every_objective.validation(), every_n_steps=2)
    history = model.fit(train, epochs=2, verbose=0, callbacks=[update]).history
    return np.asarray(model.multipliers.current()), model.get_weights(), history["loss"]


def test_one_device_and_two_replicas_agree(two_cpu_strategy):
    (lam_one, weights_one, loss_one) = _train(tf.distribute.get_strategy())
    (lam_two, weights_two, loss_two) = _train(two_cpu_strategy)
    assert np.ptp(lam_one) > 1e-3, "the test needs multipliers that moved"
    np.testing.assert_allclose(lam_one, lam_two, rtol=1e-5)
    for a, b in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(loss_one, loss_two, rtol=1e-5)


def test_registry_fixes_true_label_validation_and_needs_class_priors():
    spec = registry.get("robust_slam", registry.UNLABELED_STUDENT)
    assert spec.fixed == {"alpha": 1.0, "validation_labels": "one_hot", "num_train_examples": None}
    assert "robust_slam" not in registry.names(registry.STUDENT)
    with pytest.raises(ValueError, match=r"needs the derived argument\(s\) \['class_priors'\]"):
        registry.build("robust_slam", every_objective.mlp(), role=registry.UNLABELED_STUDENT)
    with pytest.raises(ValueError, match="needs distill=True"):
        RobustSLaMModel(every_objective.mlp(), False, class_priors=every_objective.teacher_priors())


def test_unlabeled_job_supplies_priors_and_a_multiplier_update_on_v():
    teacher_probs = every_objective.data()[1]["teacher_probs"]
    x_val, targets_val = every_objective.data(24, seed=5)
    split = types.SimpleNamespace(
        validation=tf.data.Dataset.from_tensor_slices((x_val, targets_val["label"]))
    )
    training_set = types.SimpleNamespace(
        teacher_probs=teacher_probs, split=split, batch_size=8, num_examples=32
    )
    config = types.SimpleNamespace(student=types.SimpleNamespace(temperature=1.0))
    priors = trial.derived_arguments(config, training_set)["class_priors"]()
    marginal = teacher_probs.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(priors, marginal / marginal.sum(), rtol=1e-6)
    (update,) = trial.state_updates(_model(), training_set)
    assert isinstance(update, objectives.MultiplierUpdate) and update.every_n_steps is None
    _, batch_targets = next(iter(update.validation_data))
    np.testing.assert_array_equal(batch_targets["label"], targets_val["label"][:8])
    assert trial.state_updates(every_objective.CASES["slam"].make(), training_set) == []
