"""Fidelity weights and teacher-uncertainty helpers against loop transcriptions."""

import math

import numpy as np
import pytest

from tf_robust_distill.estimators import (
    augmentation_variance,
    fidelity_weights,
    margin,
    prediction_entropy,
)


def random_probs(rng, shape):
    exp = np.exp(2.0 * rng.normal(size=shape))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_fidelity_weights_match_the_formula():
    rng = np.random.default_rng(0)
    uncertainty = rng.exponential(size=50)
    mean = sum(uncertainty) / len(uncertainty)
    for beta in [0.5, 1.0, 4.0]:
        expected = [math.exp(-beta * u / mean) for u in uncertainty]
        np.testing.assert_allclose(fidelity_weights(uncertainty, beta), expected, rtol=1e-13)


def test_fidelity_weights_are_in_unit_interval_and_decrease_with_uncertainty():
    uncertainty = np.array([0.0, 0.1, 0.5, 2.0])
    weights = fidelity_weights(uncertainty, 2.0)
    assert weights[0] == 1.0
    assert np.all(np.diff(weights) < 0) and weights[-1] > 0


def test_zero_beta_or_zero_uncertainty_gives_weight_one():
    np.testing.assert_array_equal(fidelity_weights(np.array([0.2, 3.0]), 0.0), [1.0, 1.0])
    np.testing.assert_array_equal(fidelity_weights(np.zeros(3), 5.0), [1.0, 1.0, 1.0])


def test_augmentation_variance_matches_loop():
    rng = np.random.default_rng(1)
    views = random_probs(rng, (10, 7, 4))
    expected = []
    for n in range(7):
        per_class = []
        for c in range(4):
            values = [views[v, n, c] for v in range(10)]
            mean = sum(values) / 10
            per_class.append(sum((x - mean) ** 2 for x in values) / 10)
        expected.append(sum(per_class) / 4)
    np.testing.assert_allclose(augmentation_variance(views), expected, rtol=1e-12)


def test_identical_views_have_zero_variance():
    probs = random_probs(np.random.default_rng(2), (5, 3))
    np.testing.assert_array_equal(augmentation_variance(np.stack([probs] * 4)), np.zeros(5))


def test_entropy_and_margin_match_loops():
    probs = random_probs(np.random.default_rng(3), (20, 5))
    probs[0] = [1.0, 0.0, 0.0, 0.0, 0.0]  # 0 log 0 = 0
    entropy = [-sum(p * math.log(p) for p in row if p > 0) for row in probs]
    top_two = [sorted(row, reverse=True)[:2] for row in probs]
    np.testing.assert_allclose(prediction_entropy(probs), entropy, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(margin(probs), [a - b for a, b in top_two], atol=1e-15)


@pytest.mark.parametrize(
    "uncertainty, beta, message",
    [
        (np.array([0.1, 0.2]), -1.0, "beta must be >= 0"),
        (np.array([0.1, -0.2]), 1.0, "non-negative"),
        (np.array([0.1, np.nan]), 1.0, "finite"),
        (np.ones((2, 2)), 1.0, "1-D"),
        (np.array([]), 1.0, "non-empty"),
    ],
)
def test_bad_fidelity_inputs_raise(uncertainty, beta, message):
    with pytest.raises(ValueError, match=message):
        fidelity_weights(uncertainty, beta)


@pytest.mark.parametrize(
    "views, message",
    [
        (np.full((1, 3, 2), 0.5), "at least 2 views"),
        (np.full((3, 2), 0.5), "at least 2 views"),
        (np.full((2, 3, 2), 0.7), "sum to 1"),
    ],
)
def test_bad_views_raise(views, message):
    with pytest.raises(ValueError, match=message):
        augmentation_variance(views)
