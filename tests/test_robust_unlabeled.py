"""Robust students of the unlabeled job: `robust` (no mixing), `weighted_robust_slam`, and
λ every ``student.dro_update_every`` steps."""

import math
import types

import every_objective
import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from configs import distill as distill_config
from configs import unlabeled_robust
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline import unlabeled
from tf_robust_distill.pipeline.unlabeled import trial

LAMBDA = np.array([0.6, 0.1, 0.3])


def _build(name, backbone, **kwargs):
    model = registry.build(
        name,
        backbone,
        role=registry.UNLABELED_STUDENT,
        derived={
            "class_priors": every_objective.teacher_priors(),
            "num_train_examples": every_objective.NUM_EXAMPLES,
        },
        **kwargs,
    )
    model.multipliers.log_multipliers.assign(np.log(LAMBDA).astype(np.float32))
    return model


def _batch():
    x, targets = every_objective.data()
    return x, {key: tf.constant(value) for key, value in targets.items()}


def test_robust_is_robust_slam_without_mixing_and_the_margin_loss():
    """−Σ_y p_y log softmax(f − log(λ/π̂))_y (robust distillation eq. (9), α = 1) on every
    row: robust_slam's loss once α(x) ≡ 1, whatever top-k(x)."""
    x, targets = _batch()
    backbone = every_objective.mlp()
    robust, robust_slam = _build("robust", backbone), _build("robust_slam", backbone)
    logits = backbone(x)
    loss = robust.per_example_loss(targets, logits).numpy()
    shifted = logits.numpy().astype(np.float64) - np.log(LAMBDA / robust.class_priors.numpy())
    expected = -np.sum(targets["teacher_probs"].numpy() * special.log_softmax(shifted, 1), 1)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    unmixed = {**targets, "alpha": tf.ones_like(targets["alpha"])}
    np.testing.assert_allclose(
        loss, robust_slam.per_example_loss(unmixed, logits).numpy(), rtol=1e-5, atol=1e-6
    )
    mixed = robust_slam.per_example_loss(targets, logits).numpy()
    assert not np.allclose(loss, mixed), "SLaM's α(x) < 1 must change the loss on U"


def test_robust_fixes_true_label_validation_and_serves_the_unlabeled_job_only():
    spec = registry.get("robust", registry.UNLABELED_STUDENT)
    assert spec.fixed == {"alpha": 1.0, "validation_labels": "one_hot"}
    assert spec.derived == ("class_priors",)
    assert "robust" not in registry.names(registry.STUDENT)


def test_weighted_robust_slam_multiplies_robust_slam_by_the_debiasing_weights():
    x, targets = _batch()
    backbone = every_objective.mlp()
    weighted, plain = _build("weighted_robust_slam", backbone), _build("robust_slam", backbone)
    weights = np.linspace(0.2, 1.0, every_objective.NUM_EXAMPLES)
    weighted.debiasing_weights.assign_at(np.arange(every_objective.NUM_EXAMPLES), weights)
    logits = backbone(x)
    index = targets["index"].numpy()
    np.testing.assert_allclose(
        weighted.per_example_loss(targets, logits).numpy(),
        weights[index] * plain.per_example_loss(targets, logits).numpy(),
        rtol=1e-5,
    )
    assert plain.debiasing_weights is None and "index" in weighted.required_targets


def _training_set():
    x_val, targets_val = every_objective.data(24, seed=5)
    split = types.SimpleNamespace(
        validation=tf.data.Dataset.from_tensor_slices((x_val, targets_val["label"]))
    )
    return types.SimpleNamespace(split=split, batch_size=8, debiasing_update=lambda: "debiasing")


def test_weighted_robust_slam_gets_both_state_updates():
    model = _build("weighted_robust_slam", every_objective.mlp())
    debiasing, update = trial.state_updates(model, _training_set(), 5)
    assert debiasing == "debiasing" and update.every_n_steps == 5


@pytest.mark.parametrize("every", [1, 4, 5, None])
def test_lambda_takes_a_step_every_dro_update_every_steps(every):
    """3 epochs of 2 steps: ⌈6 / N⌉ λ-steps (the first before step 0), or one per epoch."""
    model = _build("robust", every_objective.mlp(), step_size=1.0, average_iterates=True)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    callbacks = trial.state_updates(model, _training_set(), every)
    model.fit(every_objective.dataset(), epochs=3, verbose=0, callbacks=callbacks)
    expected = 3 if every is None else math.ceil(6 / every)
    assert float(model.multipliers.num_updates.numpy()) == expected


def test_config_keeps_the_robust_configs_interval_and_checks_it():
    config = unlabeled_robust.get_config()
    assert config.student.dro_update_every == distill_config.DRO_UPDATE_EVERY == 32
    assert config.dataset.imbalance_ratio == 100.0 and len(config.grid.trials) >= 5
    for bad in (0, -3):
        config.student.dro_update_every = bad
        with pytest.raises(ValueError, match="student.dro_update_every"):
            unlabeled.check_settings(config)
