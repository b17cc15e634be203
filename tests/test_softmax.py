"""The numpy softmax vs eq. (1) of Hinton et al. (2015) as written."""

import numpy as np
import pytest

from tf_robust_distill.softmax import softmax


def _transcription(logits, temperature):
    """q_i = exp(z_i / T) / Σ_j exp(z_j / T), in float64."""
    exp = np.exp(np.asarray(logits, np.float64) / temperature)
    return exp / exp.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_softmax_matches_the_transcription(temperature):
    logits = np.random.default_rng(0).normal(scale=3.0, size=(5, 7)).astype(np.float32)
    probs = softmax(logits, temperature)
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs, _transcription(logits, temperature), rtol=1e-12)


def test_softmax_of_huge_logits_is_finite_and_shift_invariant():
    logits = np.array([[1000.0, 999.0, -1000.0]])
    np.testing.assert_allclose(softmax(logits, 0.1), _transcription(logits - 1000.0, 0.1))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_a_temperature_that_is_not_positive_raises(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax(np.zeros((2, 3)), temperature)
