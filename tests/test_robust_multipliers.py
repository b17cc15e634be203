"""Multipliers of margin-based DRO: β, costs and per-class risks vs transcriptions."""

import numpy as np
import pytest

from tf_robust_distill import losses
from tf_robust_distill.objectives import multipliers


def _log_softmax(f):
    f = f - f.max(axis=1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=1, keepdims=True))


def test_tradeoff_weights_interpolate_uniform_and_multipliers():
    lam = np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(multipliers.tradeoff_weights(lam, 0.0), np.full(3, 1 / 3))
    np.testing.assert_allclose(multipliers.tradeoff_weights(lam, 1.0), lam)
    np.testing.assert_allclose(multipliers.tradeoff_weights(lam, 0.25), 0.75 / 3 + 0.25 * lam)


def test_uniform_weights_give_the_balanced_margin_loss():
    """β = 1/m makes the costs β/π̂ = 1/(m π̂): the same margin loss as costs 1/π̂."""
    rng = np.random.default_rng(1)
    priors = rng.dirichlet(np.ones(4)).astype(np.float32)
    probs = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    logits = rng.normal(size=(6, 4)).astype(np.float32)
    costs = multipliers.margin_costs(multipliers.tradeoff_weights(np.full(4, 0.7), 0.0), priors)
    np.testing.assert_allclose(
        losses.margin_loss(probs, logits, costs.astype(np.float32)),
        losses.margin_loss(probs, logits, 1.0 / priors),
        rtol=1e-5,
    )


def _risk_transcription(logits, memberships, risk):
    """R̂_j = (1/n)(1/π̂_j) Σ_i w_ij ℓ(j, f(x_i)), π̂_j = (1/n) Σ_i w_ij (Alg. 1 / eq. (10))."""
    n, m = memberships.shape
    log_probs = _log_softmax(logits.astype(np.float64))
    risks = np.zeros(m)
    for j in range(m):
        prior = memberships[:, j].sum() / n
        total = 0.0
        for i in range(n):
            if risk == "zero_one":
                loss = float(np.argmax(logits[i]) != j)
            else:
                loss = -log_probs[i, j]
            total += memberships[i, j] * loss
        risks[j] = total / (n * prior)
    return risks


def _risks(logits, memberships, risk):
    losses_ = multipliers.class_losses(logits, risk)
    loss_sums, weight_sums = multipliers.class_sums(memberships, losses_)
    return multipliers.per_class_risks(np.asarray(loss_sums), np.asarray(weight_sums), xp=np)


@pytest.mark.parametrize("risk", multipliers.RISKS)
def test_teacher_labeled_validation_risks_match_algorithm_1(risk):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(40, 4)).astype(np.float32)
    teacher_probs = rng.dirichlet(np.ones(4), size=40).astype(np.float32)
    np.testing.assert_allclose(
        _risks(logits, teacher_probs, risk),
        _risk_transcription(logits, teacher_probs, risk),
        rtol=1e-5,
    )


@pytest.mark.parametrize("risk", multipliers.RISKS)
def test_one_hot_validation_risks_match_eq_10(risk):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(40, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=40)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    result = _risks(logits, one_hot, risk)
    np.testing.assert_allclose(result, _risk_transcription(logits, one_hot, risk), rtol=1e-5)
    if risk == "zero_one":
        recall = [np.mean(np.argmax(logits[labels == j], axis=1) == j) for j in range(4)]
        np.testing.assert_allclose(result, 1.0 - np.array(recall), rtol=1e-6)


def test_a_class_without_weight_gets_zero_risk():
    np.testing.assert_array_equal(
        multipliers.per_class_risks(np.array([0.5, 0.0]), np.array([2.0, 0.0]), xp=np),
        [0.25, 0.0],
    )


def test_unknown_risk_is_a_value_error():
    with pytest.raises(ValueError, match="zero_one"):
        multipliers.class_losses(np.zeros((2, 3), np.float32), "hinge")
