"""AdaMargin and AdaAlpha: per-example losses that trust the teacher less where its margin is low.

Lukasik et al. (2022), "Teacher's pet: understanding and mitigating biases in
distillation", the baselines of the robust distillation paper (§6, App. E.5). Both
read the teacher's average margin for the true label y,

    γ_avg(y, p) = p_y − (1/(m − 1)) Σ_{y' ≠ y} p_{y'}   ∈ [−1/(m − 1), 1],

which is high where the teacher is confidently right and where distillation helps.
The original formulas of Lukasik et al. (TMLR 2022, arXiv 2106.10494) were not in the
reference material available to us. What follows is our reading of the robust paper's
one-sentence description (§6): "AdaMargin uses that quantity as a margin in the
distillation loss, whereas AdaAlpha uses it to adaptively mix between the one-hot and
distillation losses." This module implements

    AdaMargin:  ℓ(x, y) = xent(p^t(x), f(x) − δ(x) e_y),     δ(x) = 1 − γ_avg(y, p^t(x)),
    AdaAlpha:   ℓ(x, y) = (1 − a(x)) xent(e_y, f(x)) + a(x) xent(p^t(x), f(x)),
                a(x) = max(0, γ_avg(y, p^t(x))),

with xent(p, f) = −Σ_j p_j log softmax(f)_j and e_y the one-hot label. AdaMargin's
margin δ ∈ [0, m/(m − 1)] vanishes for a teacher that is sure of the true label and
grows as the teacher's margin shrinks: its minimizer softmax(f) ∝ p^t ⊙ exp(δ e_y)
gives the true label e^δ times the teacher's odds. AdaAlpha distills fully where the
teacher is sure of the true label and falls back to the label where the teacher
prefers other classes on average (γ_avg ≤ 0).
"""

import tensorflow as tf

from tf_robust_distill.losses.cross_entropy import float32, softmax_cross_entropy


def _label_ids(labels):
    return tf.reshape(tf.cast(labels, tf.int32), [-1])


def teacher_margin(labels, teacher_probs):
    """γ_avg(y, p) = p_y − (1/(m − 1)) Σ_{y'≠y} p_{y'}, shape [batch]."""
    teacher_probs = float32(teacher_probs)
    num_classes = teacher_probs.shape[-1]
    on_label = tf.gather(teacher_probs, _label_ids(labels), batch_dims=1)
    off_label = tf.reduce_sum(teacher_probs, axis=-1) - on_label
    return on_label - off_label / (num_classes - 1)


def adamargin_loss(labels, teacher_probs, logits):
    """xent(p^t, f − δ e_y) with δ = 1 − γ_avg(y, p^t), shape [batch]."""
    margin = 1.0 - teacher_margin(labels, teacher_probs)
    shift = margin[:, None] * tf.one_hot(_label_ids(labels), logits.shape[-1])
    return softmax_cross_entropy(teacher_probs, float32(logits) - shift)


def adaalpha_loss(labels, teacher_probs, logits):
    """(1 − a) xent(e_y, f) + a xent(p^t, f) with a = max(0, γ_avg(y, p^t)), shape [batch]."""
    mix = tf.maximum(teacher_margin(labels, teacher_probs), 0.0)
    hard = softmax_cross_entropy(tf.one_hot(_label_ids(labels), logits.shape[-1]), logits)
    soft = softmax_cross_entropy(teacher_probs, logits)
    return (1.0 - mix) * hard + mix * soft
