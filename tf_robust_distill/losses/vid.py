"""The Gaussian term of variational information distillation (Ahn, Hu, Damianou,
Lawrence, Dai. Variational Information Distillation for Knowledge Transfer. CVPR 2019).
"""

import tensorflow as tf

from tf_robust_distill.losses.cross_entropy import float32


def vid_variance(variance_parameter, min_variance):
    """σ_n² = log(1 + exp(a_n)) + ε, positive by construction (VID, Ahn et al. 2019, eq. (5))."""
    return tf.math.softplus(float32(variance_parameter)) + min_variance


def vid_negative_log_likelihood(teacher_features, predicted_mean, variance):
    """−log q(t | s) up to a constant, for q = N(μ(s), diag σ²) (VID, Ahn et al. 2019).

    Σ_n log σ_n + (t_n − μ_n(s))² / (2 σ_n²), eqs. (4) and (6): the variational lower
    bound of the mutual information I(t; s) ≥ H(t) + E[log q(t | s)] (eq. (2)) is
    maximized by minimizing this term. The dropped constant is (N/2) log 2π.

    Args:
      teacher_features: [batch, N] teacher features t (penultimate layer).
      predicted_mean: [batch, N] μ(s), a trainable map of the student's features s.
      variance: [N] σ², one per dimension, independent of the example (eq. (5)).
    """
    variance = float32(variance)
    squared_error = tf.square(float32(teacher_features) - float32(predicted_mean))
    return tf.reduce_sum(0.5 * tf.math.log(variance) + squared_error / (2.0 * variance), -1)
