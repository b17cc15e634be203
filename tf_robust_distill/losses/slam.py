"""SLaM's student-label mixing (Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee.
SLaM: Student-Label Mixing for Distillation with Unlabeled Examples. NeurIPS 2023).

Per-example, pure TensorFlow; the model reduces. The mixing inputs α(x) and top-k(x)
are per-example arrays fixed before training: `check_mixing_inputs` validates them
once, on the host, so the training step carries no assertions.
"""

import numpy as np
import tensorflow as tf

from tf_robust_distill.losses.cross_entropy import float32
from tf_robust_distill.losses.noise_robust import cross_entropy_of_log_probs


def check_mixing_inputs(alpha, topk_mask, labeled=None):
    """Raise a ValueError unless α(x) and top(y_s(x); k(x)) are valid mixing inputs.

    A host-side (numpy) check of the per-example arrays SLaM reads, to run once where
    they are built or passed, before training: the train step has no assertions.

    Args:
      alpha: [N] teacher accuracies α(x), each in [0, 1].
      topk_mask: [N, C] 0/1 masks with at least one 1 per row.
      labeled: optional [N] 1/0 flags; rows flagged 1 (labeled examples, which
        `SLaMModel` scores on f itself and whose α and top-k it never reads) are not
        checked.
    """
    alpha = np.asarray(alpha, dtype=np.float64).reshape(-1)
    topk_mask = np.asarray(topk_mask, dtype=np.float64)
    if topk_mask.ndim != 2 or topk_mask.shape[0] != alpha.shape[0]:
        raise ValueError(
            f"topk mask must be [N, C] with one row per alpha (N = {alpha.shape[0]}); "
            f"got shape {topk_mask.shape}."
        )
    read = np.ones(alpha.shape, bool)
    if labeled is not None:
        read = np.asarray(labeled, dtype=np.float64).reshape(-1) <= 0.5
    outside = np.flatnonzero(read & ~((alpha >= 0.0) & (alpha <= 1.0)))
    if outside.size:
        raise ValueError(
            f"alpha must lie in [0, 1]; {outside.size} values do not, e.g. alpha[{outside[0]}] "
            f"= {alpha[outside[0]]!r}."
        )
    not_binary = np.argwhere(read[:, None] & (topk_mask != 0.0) & (topk_mask != 1.0))
    if not_binary.size:
        row, column = not_binary[0]
        raise ValueError(
            f"topk mask entries must be 0 or 1; got topk[{row}, {column}] = "
            f"{topk_mask[row, column]!r}."
        )
    empty = np.flatnonzero(read & (topk_mask.sum(axis=1) < 1.0))
    if empty.size:
        raise ValueError(
            f"every topk mask row must hold a class (k(x) >= 1); rows {empty[:5].tolist()} "
            f"({empty.size} in all) have none."
        )


def _mixing_inputs(alpha, topk_mask):
    """α as [batch, 1] and the top-k mask as float32 (checked by `check_mixing_inputs`)."""
    return tf.reshape(float32(alpha), [-1, 1]), float32(topk_mask)


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
    normalized form, g the true label (App. C, proof of Proposition C.1). The inputs
    are not checked here: see `check_mixing_inputs`.

    Args:
      student_probs: [batch, C] student probabilities f.
      alpha: [batch] teacher accuracy α(x) in [0, 1].
      topk_mask: [batch, C] 0/1 mask top(y_s(x); k(x)) with k(x) >= 1 ones per row.
      normalize: divide the second term by k − 1 as in eq. (1).
    """
    alpha, topk_mask = _mixing_inputs(alpha, topk_mask)
    coefficient = _noise_coefficient(alpha, topk_mask, normalize)
    return _mix(float32(student_probs), alpha, coefficient)


def log_slam_mix(logits, alpha, topk_mask, normalize=False):
    """log mix(softmax(logits)) (see `slam_mix`), finite wherever the mix is positive.

    Where the second term vanishes (outside the top-k set, or α = 1) the mix is α f and
    its log is taken as log α + log_softmax(logits), which does not underflow (it is −inf
    only for α = 0). Elsewhere the mix is at least min(α, c) > 0 and its log is taken
    directly. The inputs are not checked here: see `check_mixing_inputs`.
    """
    alpha, topk_mask = _mixing_inputs(alpha, topk_mask)
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
