"""Mixed precision: every objective trains under mixed_bfloat16 as in float32; the config field.

bfloat16 keeps 8 significant bits, a unit roundoff u = 2^-8: each value a layer computes
in it carries a relative error of about u. Over two epochs of small SGD steps the losses
and the state (λ, buffers, batch-norm statistics) of a mixed_bfloat16 run agree with a
float32 run's to a few u: the tests allow 4u. The weight update is a sum of per-example
gradients, and there rounding has a discrete effect: a pre-activation within about
u·Σ_i |x_i w_i| of zero may change sign, which switches its ReLU and so the example's
whole gradient through that unit. In a batch of 16 one such switch moves a layer's
gradient by about 1/16, so the update is compared with a relative tolerance of 0.15 (a
couple of switches; the cases here stay below 0.05).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from every_objective import CASES, data, train

from configs import distill, robust_distill, soteacher, unlabeled_distill
from tf_robust_distill import precision
from tf_robust_distill.pipeline import context, job, unlabeled

UNIT_ROUNDOFF = 2.0**-8
TOLERANCE = 4 * UNIT_ROUNDOFF
UPDATE_TOLERANCE = 0.15
LEARNING_RATE = 0.01


def _flat(arrays):
    return np.concatenate([np.ravel(array) for array in arrays])


def _update(model, initial):
    return _flat(model.trainable_weights) - initial


@pytest.mark.parametrize("name", list(CASES))
def test_every_objective_trains_under_mixed_bfloat16_as_in_float32(name):
    initial = _flat(CASES[name].make().trainable_weights)
    reference, reference_history = train(name, learning_rate=LEARNING_RATE)
    with precision.policy("mixed_bfloat16"):
        model, history = train(name, learning_rate=LEARNING_RATE)
    assert model.backbone.get_layer("features").compute_dtype == "bfloat16"

    update, reference_update = _update(model, initial), _update(reference, initial)
    error = np.linalg.norm(update - reference_update) / np.linalg.norm(reference_update)
    assert error <= UPDATE_TOLERANCE, f"relative error of the weight update {error:.4f}"
    np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=TOLERANCE)
    for state, reference_state in zip(
        model.non_trainable_weights, reference.non_trainable_weights, strict=True
    ):
        np.testing.assert_allclose(
            state, reference_state, rtol=TOLERANCE, atol=TOLERANCE, err_msg=state.path
        )

    assert {variable.dtype for variable in model.weights} <= {"float32", "int32"}
    x, targets = data()
    targets = {key: tf.constant(value) for key, value in targets.items()}
    logits, per_example = model.logits_and_loss(tf.constant(x), targets, training=False)
    assert (logits.dtype, per_example.dtype) == ("float32", "float32")


def test_mixed_float16_scales_the_loss_and_trains_finitely():
    with precision.policy("mixed_float16"):
        model, history = train("rob", learning_rate=LEARNING_RATE)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.backbone.get_layer("features").compute_dtype == "float16"
    assert model.multipliers.log_multipliers.dtype == "float32"
    assert np.all(np.isfinite(history["loss"]))
    initial = _flat(CASES["rob"].make().trainable_weights)
    update = _update(model, initial)
    assert np.all(np.isfinite(update)) and np.linalg.norm(update) > 0


def test_policy_is_restored_after_the_block_even_on_error():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError), precision.policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError
    assert keras.config.dtype_policy().name == before


@pytest.mark.parametrize("name", ["float16", "bfloat16", "mixed_float32", None])
def test_unknown_policy_names_are_value_errors(name):
    with pytest.raises(ValueError, match="mixed_precision must be one of float32, mixed_bfloat16"):
        precision.set_policy(name)


@pytest.mark.parametrize(
    "config",
    [
        distill.get_config(),
        robust_distill.get_config(),
        soteacher.get_config(),
        unlabeled_distill.get_config(),
    ],
    ids=["distill", "robust_distill", "soteacher", "unlabeled_distill"],
)
def test_configs_default_to_float32(config):
    assert config.mixed_precision == "float32"


@pytest.mark.parametrize(
    "prepare, config",
    [(job.prepare, distill.get_config()), (unlabeled.prepare, unlabeled_distill.get_config())],
    ids=["job", "unlabeled"],
)
def test_jobs_apply_the_configured_policy_before_loading_data(monkeypatch, prepare, config):
    loaded = []

    def load(*args, **kwargs):
        loaded.append(keras.config.dtype_policy().name)
        raise StopIteration  # enough: the policy was set before the data were loaded

    monkeypatch.setattr(context.data, "load", load)
    with precision.policy("float32"):
        config.mixed_precision = "mixed_bfloat16"
        with pytest.raises(StopIteration):
            prepare(config)
        config.mixed_precision = "float16"
        with pytest.raises(ValueError, match="mixed_precision"):
            prepare(config)
    assert loaded == ["mixed_bfloat16"]
