"""The balanced objective through the margin-based (logit-adjusted) loss.

Robust distillation paper (Wang et al.), eq. (2) and (6): the balanced objective
weights each class by 1/π̂_y. It is trained through the margin loss of eq. (9) with
costs c = 1/π̂ (Menon et al.'s logit adjustment), whose minimizer satisfies
softmax(f) ∝ p/π̂ (Theorem 1). π̂ are the training label frequencies for a teacher
(L^bal) and the teacher's marginal (1/n) Σ_i p^t(x_i) over the training set for a
student (L^bal-d, §3); the caller computes them with ``class_priors_from_labels`` or
``class_priors_from_probs``.
"""

import keras
import numpy as np

from tf_robust_distill import losses
from tf_robust_distill.checks import as_labels, as_probabilities
from tf_robust_distill.objectives import multipliers
from tf_robust_distill.objectives.base import PACKAGE, ProbabilityTargetModel
from tf_robust_distill.objectives.registry import register

# Priors computed in float32 may sum to one only up to rounding.
_PRIORS_SUM_TOLERANCE = 1e-3


def class_priors_from_labels(labels, num_classes):
    """π̂_y = (1/n) Σ_i 1(y_i = y): label frequencies, the teacher's priors. Shape [m]."""
    labels = as_labels(labels, num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    if np.any(counts == 0):
        raise ValueError(
            f"every class needs at least one label to have a positive prior; classes "
            f"{np.flatnonzero(counts == 0).tolist()} have none."
        )
    return counts / counts.sum()


def class_priors_from_probs(teacher_probs):
    """π̂^t_y = (1/n) Σ_i p^t_y(x_i): the teacher's marginal, a student's priors (§3). Shape [m]."""
    priors = as_probabilities(teacher_probs, name="teacher_probs").mean(axis=0)
    return priors / priors.sum()


def check_class_priors(class_priors, num_classes):
    """``class_priors`` as a float64 array if it is m positive numbers summing to one."""
    if class_priors is None:
        raise ValueError(
            "class_priors is required: label frequencies for a teacher "
            "(class_priors_from_labels), the teacher's marginal for a student "
            "(class_priors_from_probs)."
        )
    priors = np.asarray(class_priors, dtype=np.float64)
    if priors.shape != (num_classes,):
        raise ValueError(
            f"class_priors must have one entry per class ({num_classes}), got shape {priors.shape}."
        )
    if not np.all(np.isfinite(priors) & (priors > 0)):
        raise ValueError(f"class_priors must all be positive, got {priors.tolist()}.")
    if abs(priors.sum() - 1.0) > _PRIORS_SUM_TOLERANCE:
        raise ValueError(f"class_priors must sum to 1, got sum {priors.sum():.6g}.")
    return priors


@register("bal", roles=("teacher", "student"), derived=("class_priors",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class BalancedModel(ProbabilityTargetModel):
    """L^bal (teacher, ``distill=False``) or L^bal-d (student, ``distill=True``).

    Per example: margin_loss(p, f, c) with c = 1/π̂, p the one-hot label or the
    teacher's probabilities (see `ProbabilityTargetModel`). π̂ is a non-trainable
    variable (``model.class_priors``).

    Args:
      backbone: a Keras model returning logits.
      distill: False trains against one-hot labels, True against teacher probabilities.
      class_priors: [m] positive, summing to one: label frequencies for a teacher,
        the teacher's training-set marginal for a student.
    """

    class_reweighting = "its margin loss already weights class y by 1/π̂_y (β_y/π̂_y when robust)"

    def __init__(self, backbone, distill=False, *, class_priors=None, **kwargs):
        super().__init__(backbone, distill, **kwargs)
        self.num_classes = int(backbone.output_shape[-1])
        priors = check_class_priors(class_priors, self.num_classes)
        self.class_priors = self.add_weight(
            shape=(self.num_classes,),
            initializer=keras.initializers.Constant(priors),
            dtype="float32",
            trainable=False,
            autocast=False,
            name="class_priors",
        )

    def class_weights(self):
        """β of Algorithm 3; uniform here (the balanced objective is α = 0)."""
        return keras.ops.full((self.num_classes,), 1.0 / self.num_classes)

    def per_example_loss(self, targets, logits):
        costs = multipliers.margin_costs(self.class_weights(), self.class_priors)
        return losses.margin_loss(self.probability_targets(targets, logits), logits, costs)

    def get_config(self):
        return {
            **super().get_config(),
            "class_priors": self.class_priors.numpy().tolist(),
        }
