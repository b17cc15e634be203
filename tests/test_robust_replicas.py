"""Multipliers and weights do not depend on the number of replicas (one device vs two)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import NUM_CLASSES, batches, tiny_net

from tf_robust_distill.objectives.balanced import class_priors_from_probs
from tf_robust_distill.objectives.group_dro import GroupDROModel
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel


def _train(strategy, make_model, callbacks=()):
    """70 examples in batches of 16: the last batch splits unevenly over two replicas."""
    with strategy.scope():
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(
        batches(70, seed=0, batch_size=16, cycled_labels=True),
        epochs=2,
        verbose=0,
        callbacks=list(callbacks),
    ).history
    return np.asarray(model.multipliers.current()), model.get_weights(), history


def _assert_same(one, two):
    (lam_one, weights_one, history_one), (lam_two, weights_two, history_two) = one, two
    assert np.ptp(lam_one) > 1e-3, "the test needs multipliers that moved"
    np.testing.assert_allclose(lam_one, lam_two, rtol=1e-5)
    for a, b in zip(weights_one, weights_two, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for key in [f"lambda_{j}" for j in range(NUM_CLASSES)] + ["loss"]:
        np.testing.assert_allclose(history_one[key], history_two[key], rtol=1e-5)


@pytest.mark.parametrize(
    ("validation_labels", "risk"), [("teacher", "xent"), ("one_hot", "zero_one")]
)
def test_robust_model_with_multiplier_updates(two_cpu_strategy, validation_labels, risk):
    priors = class_priors_from_probs(np.full((4, NUM_CLASSES), 1 / NUM_CLASSES))

    def make_model():
        return RobustModel(
            tiny_net(),
            distill=True,
            class_priors=priors,
            step_size=2.0,
            validation_labels=validation_labels,
            risk=risk,
        )

    def run(strategy):
        # 31 validation examples in batches of 7: uneven splits in the validation pass too.
        update = MultiplierUpdate(
            batches(31, seed=5, batch_size=7, cycled_labels=True), every_n_steps=2
        )
        return _train(strategy, make_model, [update])

    _assert_same(run(tf.distribute.get_strategy()), run(two_cpu_strategy))


@pytest.mark.parametrize("distill", [False, True])
def test_group_dro_online_updates(two_cpu_strategy, distill):
    def make_model():
        return GroupDROModel(tiny_net(), distill=distill, step_size=1.0)

    _assert_same(
        _train(tf.distribute.get_strategy(), make_model), _train(two_cpu_strategy, make_model)
    )
