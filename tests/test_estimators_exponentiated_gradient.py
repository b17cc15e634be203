"""Exponentiated-gradient step on the simplex vs Algorithm 1's update as written."""

import keras
import numpy as np
import pytest

from tf_robust_distill.estimators.exponentiated_gradient import exponentiated_gradient_step

XPS = [np, keras.ops]


def _eg_transcription(multipliers_, risks, step_size, num_steps):
    """Algorithm 1's λ-update, as written: λ̃_j = λ_j exp(γ R_j), λ = λ̃ / Σ λ̃."""
    lam = np.asarray(multipliers_, np.float64)
    for _ in range(num_steps):
        tilde = lam * np.exp(step_size * risks)
        lam = tilde / tilde.sum()
    return lam


def _eg_steps(log_lam, risks, step_size, num_steps, xp):
    for _ in range(num_steps):
        log_lam = exponentiated_gradient_step(log_lam, risks, step_size, xp=xp)
    return np.exp(np.asarray(log_lam, np.float64))


@pytest.mark.parametrize("xp", XPS)
def test_eg_step_matches_algorithm_1(xp):
    rng = np.random.default_rng(0)
    start = rng.dirichlet(np.ones(5))
    risks = rng.uniform(0, 2, size=5)
    result = _eg_steps(np.log(start).astype(np.float32), risks.astype(np.float32), 0.7, 4, xp)
    np.testing.assert_allclose(result, _eg_transcription(start, risks, 0.7, 4), rtol=1e-5)


# float32 log-space keeps |log λ + γR| ~ 1e3 to its spacing there, 6e-5.
@pytest.mark.parametrize(
    ("xp", "dtype", "rtol"), [(np, np.float64, 1e-9), (keras.ops, np.float32, 2e-4)]
)
def test_eg_step_with_huge_risks_does_not_overflow(xp, dtype, rtol):
    start = np.full(4, 0.25)
    risks = np.array([3e3, 1e4, 9.99e3, 0.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = _eg_transcription(start, risks, 0.1, 1)
    assert not np.all(np.isfinite(naive)), "the naive update should overflow here"
    result = _eg_steps(np.log(start).astype(dtype), risks.astype(dtype), 0.1, 1, xp)
    # Subtracting max R from every risk leaves Algorithm 1's normalized update unchanged.
    shifted = _eg_transcription(start, risks - risks.max(), 0.1, 1)
    np.testing.assert_allclose(result, shifted, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(result.sum(), 1.0, rtol=1e-6)


def test_multipliers_stay_on_the_simplex_and_rise_on_the_worst_class():
    log_lam = np.log(np.array([0.5, 0.3, 0.2]))
    risks = np.array([0.1, 0.9, 0.4])
    new = np.exp(exponentiated_gradient_step(log_lam, risks, 0.5, xp=np))
    np.testing.assert_allclose(new.sum(), 1.0)
    assert np.all(new > 0)
    assert new[1] > 0.3 and new[0] < 0.5
    assert np.argmax(new / np.exp(log_lam)) == np.argmax(risks)
