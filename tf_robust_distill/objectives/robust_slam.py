"""Robust distillation from unlabeled examples: margin-based DRO on SLaM-corrected labels.

The composition of two pure formulas, per example (our own objective; neither paper
states it):

- the robust objective's margin loss (Wang et al., "Robust Distillation for Worst-class
  Performance", eq. (9), costs c = β/π̂ with β = λ, Algorithm 3 at α = 1), which is the
  cross-entropy of p against the adjusted logits f − log c;
- SLaM's mixing (Kontonis et al., "SLaM: Student-Label Mixing for Distillation with
  Unlabeled Examples", eq. (1)–(2), Algorithm 1), which scores the teacher's label y on
  U against mix(f) instead of f.

Here mix is applied to the adjusted prediction: ℓ(x) = −Σ_y p_y log mix(softmax(f − log c))_y.
On labeled rows α = 1, so mix is the identity and ℓ is the margin loss on the true
label. With α ≡ 1 it is `RobustModel`'s loss on the teacher's labels; with λ uniform it
is the balanced (logit-adjusted, c ∝ 1/π̂) SLaM loss. λ is updated by `MultiplierUpdate`
from the true labels of a validation set (eq. (10) / Algorithm 2's one-hot risks).
"""

import keras

from tf_robust_distill import losses
from tf_robust_distill.objectives import multipliers
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.robust import RobustModel


def robust_slam_loss(targets, logits, costs, alpha, topk_mask, normalize=False):
    """−Σ_y p_y log mix(softmax(f − log c))_y, per example, shape [batch].

    Robust distillation paper eq. (9) (the margin loss with costs c) with SLaM eq. (2)'s
    mixed prediction in place of softmax(f − log c).

    Args:
      targets: [batch, C] labels p: the teacher's on U, one-hot true labels on A ∪ V.
      logits: [batch, C] student logits f.
      costs: [C] or [batch, C] positive costs c = β/π̂.
      alpha, topk_mask, normalize: SLaM's α(x), top(y_s(x); k(x)) and eq. (1)'s
        normalization (see `losses.slam_mix`); α = 1 on labeled rows.
    """
    adjusted = losses.margin_adjusted_logits(logits, costs)
    return losses.slam_loss(targets, adjusted, alpha, topk_mask, normalize)


@register(
    "robust_slam",
    roles=("unlabeled_student",),
    derived=("class_priors",),
    alpha=1.0,
    validation_labels="one_hot",
)
@keras.saving.register_keras_serializable(package=PACKAGE)
class RobustSLaMModel(RobustModel):
    """The robust student (λ on V with true labels) trained on SLaM-mixed teacher labels of U.

    Per example `robust_slam_loss` with c = β/π̂, β = (1 − α)/m + α·λ (Algorithm 3;
    registered with α = 1). Reads ``targets['teacher_probs']`` (teacher labels on U,
    one-hot true labels on labeled rows), ``targets['labeled']``, ``targets['alpha']``
    and ``targets['topk']`` as `SLaMModel` does; check α and top-k once with
    `losses.check_mixing_inputs` before training. λ moves only through a
    `MultiplierUpdate` on a validation set with true labels (see `RobustModel`).

    Args:
      backbone: a Keras model returning logits.
      normalize: SLaM eq. (1)'s division by k(x) − 1 (False: the experiments' form).
      class_priors: [m] π̂, the teacher's marginal over the student's training set.
      Others: see `RobustModel`.
    """

    def __init__(self, backbone, distill=True, *, normalize=False, **kwargs):
        super().__init__(backbone, distill, **kwargs)
        if not self.distill:
            raise ValueError("RobustSLaMModel is a student: it needs distill=True.")
        self.normalize = bool(normalize)

    @property
    def required_targets(self):
        mixing = (targets_dict.LABELED, targets_dict.ALPHA, targets_dict.TOPK)
        return (*super().required_targets, *mixing)

    def per_example_loss(self, targets, logits):
        costs = multipliers.margin_costs(self.class_weights(), self.class_priors)
        alpha, topk = targets_dict.slam_mixing(targets)
        return robust_slam_loss(
            self.probability_targets(targets, logits), logits, costs, alpha, topk, self.normalize
        )

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}
