"""Temperature scaling: one scalar T fitted by held-out negative log-likelihood.

Guo, Pleiss, Sun, Weinberger. On Calibration of Modern Neural Networks. ICML 2017, Sec. 4.2;
used in Table 3 of "SoTeacher: Toward Student-Oriented Teacher Network Training for Knowledge
Distillation" to report ECE and NLL after temperature scaling, T located on a held-out set.
"""

import math

import numpy as np
from scipy import optimize, special

from tf_robust_distill import checks
from tf_robust_distill.softmax import softmax


def _check_logits(logits):
    return checks.as_logits(np.asarray(logits, dtype=np.float64))


def apply_temperature(logits, temperature):
    """softmax(logits / T) row-wise [N, C] -> [N, C] (max-subtracted, so it cannot overflow)."""
    return softmax(_check_logits(logits), temperature)


def _mean_nll(logits, labels, temperature):
    log_probs = special.log_softmax(logits / temperature, axis=1)
    return float(-np.take_along_axis(log_probs, labels[:, None], axis=1).mean())


def temperature_nll(logits, labels, temperature):
    """Mean negative log-likelihood -log softmax(logits / T)[y] over the examples."""
    temperature = checks.check_temperature(temperature)
    logits = _check_logits(logits)
    labels = checks.as_labels(labels, logits.shape[1], num_examples=logits.shape[0])
    return _mean_nll(logits, labels, temperature)


def fit_temperature(logits, labels, bounds=(0.05, 20.0)):
    """The T in [bounds] minimizing `temperature_nll` on a held-out set (Guo et al. 2017).

    Bounded scalar minimization over log T (scipy.optimize.minimize_scalar, method='bounded').
    The NLL is convex in 1/T, hence unimodal in log T, so the bounded search finds its minimum.

    Args:
      logits: [N, C] held-out logits.
      labels: [N] integer true labels.
      bounds: (low, high) with 0 < low < high, the allowed range of T.

    Returns:
      The fitted temperature as a Python float.
    """
    logits = _check_logits(logits)
    labels = checks.as_labels(labels, logits.shape[1], num_examples=logits.shape[0])
    low, high = bounds
    if not (0 < low < high and math.isfinite(high)):
        raise ValueError(f"bounds must be (low, high) with 0 < low < high < inf, got {bounds!r}.")
    result = optimize.minimize_scalar(
        lambda log_t: _mean_nll(logits, labels, math.exp(log_t)),
        bounds=(math.log(low), math.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return math.exp(result.x)
