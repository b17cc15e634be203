"""Temperature scaling on a miscalibrated model whose true temperature is known."""

import math

import numpy as np
import pytest

from tf_robust_distill.estimators import apply_temperature, fit_temperature, temperature_nll


@pytest.fixture(scope="module")
def overconfident():
    """Logits = 3 x the true log-probabilities of a known model, labels sampled from it.

    softmax(logits / 3) is the generating distribution, so the NLL-optimal temperature is
    3 up to sampling noise.
    """
    rng = np.random.default_rng(0)
    true_logits = 1.5 * rng.normal(size=(20_000, 10))
    true_log_probs = true_logits - np.log(np.exp(true_logits).sum(axis=1, keepdims=True))
    cumulative = np.exp(true_log_probs).cumsum(axis=1)
    labels = (rng.random((20_000, 1)) > cumulative).sum(axis=1)
    return 3.0 * true_log_probs, labels


def test_recovers_the_true_temperature_and_lowers_nll(overconfident):
    logits, labels = overconfident
    temperature = fit_temperature(logits, labels)
    assert abs(temperature - 3.0) < 0.1
    assert temperature_nll(logits, labels, temperature) < temperature_nll(logits, labels, 1.0)


def test_matches_a_fine_grid_search(overconfident):
    logits, labels = (a[:2000] for a in overconfident)
    log_grid = np.linspace(math.log(0.05), math.log(20.0), 2001)
    nll = [temperature_nll(logits, labels, math.exp(log_t)) for log_t in log_grid]
    best = int(np.argmin(nll))
    temperature = fit_temperature(logits, labels)
    assert abs(math.log(temperature) - log_grid[best]) <= log_grid[1] - log_grid[0]
    assert temperature_nll(logits, labels, temperature) <= nll[best] + 1e-12


def test_stays_inside_the_bounds(overconfident):
    logits, labels = overconfident
    assert fit_temperature(logits, labels, bounds=(0.5, 2.0)) == pytest.approx(2.0, rel=1e-4)


def test_nll_matches_loop():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    expected = (
        -sum(
            z[y] / 2.0 - math.log(sum(math.exp(v / 2.0) for v in z))
            for z, y in zip(logits, labels, strict=True)
        )
        / 6
    )
    assert temperature_nll(logits, labels, 2.0) == pytest.approx(expected, rel=1e-12)


def test_apply_temperature_is_a_stable_softmax():
    logits = np.array([[1000.0, 0.0, -1000.0], [2.0, 1.0, 0.0]])
    probs = apply_temperature(logits, 2.0)
    for row, z in zip(probs, logits, strict=True):
        shifted = [math.exp((v - max(z)) / 2.0) for v in z]
        np.testing.assert_allclose(row, [e / sum(shifted) for e in shifted], rtol=1e-12)
    assert probs[0, 1] == pytest.approx(math.exp(-500.0), rel=1e-12)  # no overflow, no underflow
    np.testing.assert_allclose(probs.sum(axis=1), [1.0, 1.0])


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.inf, math.nan])
def test_bad_temperature_raises(temperature):
    with pytest.raises(ValueError, match="temperature must be"):
        apply_temperature(np.zeros((2, 3)), temperature)


@pytest.mark.parametrize(
    "logits, labels, bounds, message",
    [
        (np.zeros(3), np.zeros(3, dtype=int), (0.05, 20.0), r"logits must have shape \[N, C\]"),
        (np.full((2, 3), np.nan), np.zeros(2, dtype=int), (0.05, 20.0), "finite"),
        (np.zeros((2, 3)), np.array([0, 3]), (0.05, 20.0), r"\[0, num_classes\) = \[0, 3\)"),
        (np.zeros((2, 3)), np.zeros(3, dtype=int), (0.05, 20.0), "shape"),
        (np.zeros((2, 3)), np.zeros(2, dtype=int), (0.0, 20.0), "bounds must be"),
        (np.zeros((2, 3)), np.zeros(2, dtype=int), (5.0, 1.0), "bounds must be"),
    ],
)
def test_bad_fit_inputs_raise(logits, labels, bounds, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels, bounds=bounds)
