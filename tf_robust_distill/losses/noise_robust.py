"""Noise-robust classification losses ℓ(y, p) on log-probabilities, per example.

The losses SLaM is compared with and composed with (SLaM App. D.6): Taylor
cross-entropy (Feng, Shu, Lin, Lv, Li, An. Can Cross Entropy Loss Be Robust to Label
Noise? IJCAI 2020) and Poly-1 (Leng, Tan, Liu, Cubuk, Shi, Cheng, Anguelov. PolyLoss:
A Polynomial Expansion Perspective of Classification Loss Functions. ICLR 2022).
They take the log-probabilities of the prediction they score (the student's
``log_softmax``, or the log of its SLaM mix) and are linear in the target
probabilities ``y``, so one-hot labels, hard and soft teacher labels go through the
same code.
"""

import functools
import math

import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.losses.cross_entropy import float32

BASE_LOSSES = ("xent", "taylor", "poly")
"""Names of the losses ℓ(y, p) an objective may train with, see `base_loss`."""


def check_degree(degree):
    """Raise a ValueError unless `degree` (Taylor-CE's truncation order) is an integer >= 1."""
    if not checks.is_integer(degree) or degree < 1:
        raise ValueError(
            f"degree (the Taylor cross-entropy truncation order) must be an integer >= 1, "
            f"got {degree!r}."
        )


def check_epsilon(epsilon):
    """Raise a ValueError unless `epsilon` (Poly-1's coefficient) is a finite number >= -1.

    Poly-1 = CE + ε(1 − p_t) = Σ_j (1 − p_t)^j / j + ε(1 − p_t): its leading coefficient
    is 1 + ε, so ε >= −1 keeps the loss non-increasing in p_t (Leng et al. 2022, §4).
    """
    if not checks.is_real(epsilon) or not math.isfinite(epsilon) or epsilon < -1:
        raise ValueError(
            f"epsilon (the Poly-1 coefficient) must be a finite number >= -1, got {epsilon!r}."
        )


def cross_entropy_of_log_probs(targets, log_probs):
    """ce(y, p) = −Σ_c y_c log p_c.

    A class with y_c = 0 contributes 0 even where log p_c = −inf.

    Args:
      targets: [batch, C] target probabilities y.
      log_probs: [batch, C] log-probabilities log p of the prediction.
    """
    return -tf.reduce_sum(tf.math.multiply_no_nan(float32(log_probs), float32(targets)), -1)


def taylor_cross_entropy_of_log_probs(targets, log_probs, degree):
    """Taylor cross-entropy of order t: Σ_c y_c Σ_{j=1}^{t} (1 − p_c)^j / j.

    Feng et al. (IJCAI 2020), §3: the cross-entropy −log p_y = Σ_{j>=1} (1 − p_y)^j / j
    truncated after t terms, bounded, hence robust to label noise; t → ∞ gives back the
    cross-entropy. For probability targets it is the y-weighted sum over classes, the
    way the cross-entropy is. SLaM App. D.6 uses t = 2.

    Args:
      targets: [batch, C] target probabilities y.
      log_probs: [batch, C] log-probabilities of the prediction p.
      degree: truncation order t, an integer >= 1.
    """
    check_degree(degree)
    complement = 1.0 - tf.exp(float32(log_probs))
    power = tf.ones_like(complement)
    series = tf.zeros_like(complement)
    for j in range(1, degree + 1):
        power *= complement
        series += power / j
    return tf.reduce_sum(float32(targets) * series, -1)


def poly1_cross_entropy_of_log_probs(targets, log_probs, epsilon):
    """Poly-1: ce(y, p) + ε (1 − Σ_c y_c p_c).

    Leng et al. (ICLR 2022), §4: L_Poly-1 = −log p_t + ε(1 − p_t). For probability
    targets p_t is the target-weighted probability Σ_c y_c p_c (as in the paper's code
    for smoothed labels), so one-hot targets give the paper's form exactly.
    SLaM App. D.6 uses ε = 2.

    Args:
      targets: [batch, C] target probabilities y.
      log_probs: [batch, C] log-probabilities of the prediction p.
      epsilon: ε >= −1.
    """
    check_epsilon(epsilon)
    target_prob = tf.reduce_sum(float32(targets) * tf.exp(float32(log_probs)), -1)
    return cross_entropy_of_log_probs(targets, log_probs) + epsilon * (1.0 - target_prob)


def base_loss(name, *, degree=2, epsilon=2.0):
    """The loss ℓ(targets, log_probs) called `name`.

    'xent': `cross_entropy_of_log_probs`; 'taylor': `taylor_cross_entropy_of_log_probs`
    of order `degree`; 'poly': `poly1_cross_entropy_of_log_probs` with `epsilon`.

    Raises:
      ValueError: unknown name, or a bad `degree` / `epsilon` for the chosen loss.
    """
    if name == "xent":
        return cross_entropy_of_log_probs
    if name == "taylor":
        check_degree(degree)
        return functools.partial(taylor_cross_entropy_of_log_probs, degree=degree)
    if name == "poly":
        check_epsilon(epsilon)
        return functools.partial(poly1_cross_entropy_of_log_probs, epsilon=epsilon)
    raise ValueError(f"base_loss must be one of {', '.join(BASE_LOSSES)}; got {name!r}.")


def taylor_cross_entropy(targets, logits, degree):
    """Taylor cross-entropy of order `degree` of softmax(logits), see the `_of_log_probs` form."""
    return taylor_cross_entropy_of_log_probs(targets, tf.nn.log_softmax(float32(logits)), degree)


def poly1_cross_entropy(targets, logits, epsilon):
    """Poly-1 loss with coefficient `epsilon` of softmax(logits), see the `_of_log_probs` form."""
    return poly1_cross_entropy_of_log_probs(targets, tf.nn.log_softmax(float32(logits)), epsilon)
