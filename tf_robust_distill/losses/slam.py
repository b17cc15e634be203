"""SLaM's student-label mixing (Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee.
SLaM: Student-Label Mixing for Distillation with Unlabeled Examples. NeurIPS 2023).

Per-example, pure TensorFlow; the model reduces.
"""

import tensorflow as tf

from tf_robust_distill.losses.cross_entropy import float32
from tf_robust_distill.losses.noise_robust import cross_entropy_of_log_probs


def _checked_mixing_inputs(alpha, topk_mask):
    """α as [batch, 1] and the top-k mask as float32, after checking their values.

    The checks run eagerly and in graphs (tf.errors.InvalidArgumentError, before any
    later variable update); XLA compiles them away.
    """
    alpha = tf.reshape(float32(alpha), [-1, 1])
    topk_mask = float32(topk_mask)
    checks = [
        tf.debugging.assert_greater_equal(alpha, 0.0, message="alpha must lie in [0, 1]"),
        tf.debugging.assert_less_equal(alpha, 1.0, message="alpha must lie in [0, 1]"),
        tf.debugging.assert_equal(
            topk_mask * (1.0 - topk_mask), 0.0, message="topk mask entries must be 0 or 1"
        ),
        tf.debugging.assert_greater_equal(
            tf.reduce_sum(topk_mask, -1), 1.0, message="every topk mask row must hold a class"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(alpha), tf.identity(topk_mask)


def _noise_coefficient(alpha, topk_mask, normalize):
    """c = (1 − α) top(y_s; k) / (k − 1 if normalize else 1): mix(f) = α f + c ⊙ (1 − f).

    With `normalize` and k = 1 no other class can be the teacher's wrong label, so the
    term is 0 there (the 1/(k − 1) of eq. (1) is undefined at k = 1).
    """
    coefficient = (1.0 - alpha) * topk_mask
    if normalize:
        k = tf.reduce_sum(topk_mask, -1, keepdims=True)
        coefficient = tf.math.divide_no_nan(coefficient, k - 1.0)
    return coefficient


def _mix(student_probs, alpha, coefficient):
    return alpha * student_probs + coefficient * (1.0 - student_probs)


def slam_mix(student_probs, alpha, topk_mask, normalize=False):
    """SLaM's mixed student prediction.

    normalize=False (the experiments' form, SLaM App. B, Remark B.1):
        mix(f) = α f + (1 − α) (1 − f) ⊙ top(y_s; k)
    normalize=True (SLaM eq. (1)):
        mix(f) = α f + (1 − α) top(y_s; k) ⊙ (1 − f) / (k − 1)

    Under Definition 3.2 (the teacher's label is right with probability α(x), else a
    uniformly random other class of its top-k(x)), E[y | x] = mix(g(x)) with the
    normalized form, g the true label (App. C, proof of Proposition C.1).

    Args:
      student_probs: [batch, C] student probabilities f.
      alpha: [batch] teacher accuracy α(x) in [0, 1].
      topk_mask: [batch, C] 0/1 mask top(y_s(x); k(x)) with k(x) >= 1 ones per row.
      normalize: divide the second term by k − 1 as in eq. (1).

    Raises:
      tf.errors.InvalidArgumentError: α outside [0, 1], a mask entry not 0/1, or a mask row
        without a class.
    """
    alpha, topk_mask = _checked_mixing_inputs(alpha, topk_mask)
    coefficient = _noise_coefficient(alpha, topk_mask, normalize)
    return _mix(float32(student_probs), alpha, coefficient)


def log_slam_mix(logits, alpha, topk_mask, normalize=False):
    """log mix(softmax(logits)) (see `slam_mix`), finite wherever the mix is positive.

    Where the second term vanishes (outside the top-k set, or α = 1) the mix is α f and
    its log is taken as log α + log_softmax(logits), which does not underflow (it is −inf
    only for α = 0). Elsewhere the mix is at least min(α, c) > 0 and its log is taken
    directly.
    """
    alpha, topk_mask = _checked_mixing_inputs(alpha, topk_mask)
    coefficient = _noise_coefficient(alpha, topk_mask, normalize)
    log_probs = tf.nn.log_softmax(float32(logits))
    has_noise_term = coefficient > 0.0
    safe_mixed = tf.where(has_noise_term, _mix(tf.exp(log_probs), alpha, coefficient), 1.0)
    return tf.where(has_noise_term, tf.math.log(safe_mixed), tf.math.log(alpha) + log_probs)


def slam_loss(targets, logits, alpha, topk_mask, normalize=False, loss=cross_entropy_of_log_probs):
    """ℓ(y, mix(f)): the loss of the teacher label against the MIXED student prediction.

    SLaM eq. (2) and Algorithm 1 (teacher-labeled examples); App. D.6 for ℓ other than
    the cross-entropy (pass `base_loss('taylor')` or `base_loss('poly')`). An example
    with α = 1 is scored on f itself: mix(f) = f whatever the top-k set.

    Args:
      targets: [batch, C] teacher labels y (soft, or one-hot for hard distillation).
      logits: [batch, C] student logits.
      alpha, topk_mask, normalize: see `slam_mix`.
      loss: ℓ(targets, log_probs), e.g. from `base_loss`.
    """
    return loss(targets, log_slam_mix(logits, alpha, topk_mask, normalize))
