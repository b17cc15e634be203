"""Cross-entropy, Hinton's KD and the margin loss: per example, pure TensorFlow.

Every function returns a tensor of shape [batch]. Reduction (sum over the global
batch divided by the global batch size) happens once, in
`tf_robust_distill.objectives.base.DistillationModel`, so that results do not
depend on the number of replicas. Logits are cast to float32 first, so the losses
stay in float32 under mixed precision.
"""

import tensorflow as tf


def float32(x):
    """Cast to float32: losses stay in float32 under mixed precision."""
    return tf.cast(x, tf.float32)


def softmax_cross_entropy(targets, logits):
    """Softmax cross-entropy of probability targets p against logits f.

    xent(p, f) = −Σ_y p_y log softmax(f)_y. With one-hot targets this is the
    softmax cross-entropy of the robust distillation paper (§2); with teacher
    probabilities it is the distillation loss of its eq. (5) (L^std-d).

    Args:
      targets: [batch, C] probabilities (one-hot labels or teacher probabilities).
      logits: [batch, C] scores.
    """
    return tf.nn.softmax_cross_entropy_with_logits(labels=float32(targets), logits=float32(logits))


def kd_loss(labels, teacher_probs, logits, *, alpha, temperature):
    """Hinton et al. (2015) knowledge distillation, as in SoTeacher App. D.2.

    α · xent(onehot(y), f) + (1 − α) · T² · KL(p^t_T ‖ softmax(f / T)),
    where p^t_T = softmax(f^t / T) are the teacher's probabilities at temperature T
    (already applied when the labels were read) and f the student's logits.
    The T² factor keeps the gradient scale of the soft term independent of T.

    Args:
      labels: [batch] int class ids.
      teacher_probs: [batch, C] teacher probabilities at temperature `temperature`.
      logits: [batch, C] student logits.
      alpha: weight of the hard-label term, in [0, 1].
      temperature: T > 0.
    """
    logits = float32(logits)
    teacher_probs = float32(teacher_probs)
    hard = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    log_student = tf.nn.log_softmax(logits / temperature)
    kl = tf.reduce_sum(
        tf.math.xlogy(teacher_probs, teacher_probs) - teacher_probs * log_student, axis=-1
    )
    return alpha * hard + (1.0 - alpha) * temperature**2 * kl


def margin_loss(targets, logits, costs):
    """Margin-based (logit-adjusted) loss of the robust distillation paper, eq. (9).

    ℓ(p, f) = Σ_y p_y log(1 + Σ_{j≠y} exp(log(c_y / c_j) − (f_y − f_j))),

    which equals the softmax cross-entropy of p against the adjusted logits
    f − log c. The paper writes a constant 1/m in front; it is left out here
    because it would only rescale the learning rate. Its minimizer over f
    satisfies softmax(f) ∝ c ⊙ p (Theorem 1, Proposition 3).

    Args:
      targets: [batch, C] probabilities p (one-hot labels or teacher probabilities).
      logits: [batch, C] scores f.
      costs: [C] or [batch, C] positive costs c (e.g. 1/π̂ for the balanced
        objective, β/π̂ for the robust and trade-off objectives).
    """
    return softmax_cross_entropy(targets, margin_adjusted_logits(logits, costs))


def margin_adjusted_logits(logits, costs):
    """f − log c: the logits whose softmax cross-entropy is the margin loss of eq. (9).

    Args:
      logits: [batch, C] scores f.
      costs: [C] or [batch, C] positive costs c.
    """
    return float32(logits) - tf.math.log(float32(costs))
