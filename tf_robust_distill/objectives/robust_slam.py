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

Registered for the unlabeled job's student:

- ``robust``: `RobustModel` (α = 1) on the teacher's labels of U and the true labels of
  A ∪ V, i.e. this loss with SLaM's α(x) ≡ 1: no mixing;
- ``robust_slam``: `RobustSLaMModel`;
- ``weighted_robust_slam``: `RobustSLaMModel` times the debiasing weights of Iliopoulos
  et al. (Algorithm 1, w_i of `DebiasingWeightUpdate`), as ``weighted_vid`` composes them.
"""

import keras

from tf_robust_distill import losses
from tf_robust_distill.objectives import multipliers
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.robust import RobustModel
from tf_robust_distill.objectives.weighted import ExampleWeights

MULTIPLIER_FIXED = {"alpha": 1.0, "validation_labels": "one_hot"}
"""λ on V's true labels (Algorithm 2), no trade-off (Algorithm 3 at α = 1)."""

register("robust", roles=("unlabeled_student",), derived=("class_priors",), **MULTIPLIER_FIXED)(
    RobustModel
)


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
    num_train_examples=None,
    **MULTIPLIER_FIXED,
)
@register(
    "weighted_robust_slam",
    roles=("unlabeled_student",),
    derived=("class_priors", "num_train_examples"),
    **MULTIPLIER_FIXED,
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
      num_train_examples: None; or N, and the loss is multiplied by debiasing weights
        indexed by ``targets['index']`` (weighted distillation Algorithm 1), estimated by
        `DebiasingWeightUpdate`.
      class_priors: [m] π̂, the teacher's marginal over the student's training set.
      Others: see `RobustModel`.
    """

    def __init__(
        self, backbone, distill=True, *, normalize=False, num_train_examples=None, **kwargs
    ):
        super().__init__(backbone, distill, **kwargs)
        if not self.distill:
            raise ValueError("RobustSLaMModel is a student: it needs distill=True.")
        self.normalize = bool(normalize)
        self.debiasing_weights = (
            None
            if num_train_examples is None
            else ExampleWeights(num_train_examples, name="debiasing_weights")
        )

    @property
    def required_targets(self):
        mixing = (targets_dict.LABELED, targets_dict.ALPHA, targets_dict.TOPK)
        weighted = () if self.debiasing_weights is None else (targets_dict.INDEX,)
        return (*super().required_targets, *mixing, *weighted)

    def per_example_loss(self, targets, logits):
        costs = multipliers.margin_costs(self.class_weights(), self.class_priors)
        alpha, topk = targets_dict.slam_mixing(targets)
        loss = robust_slam_loss(
            self.probability_targets(targets, logits), logits, costs, alpha, topk, self.normalize
        )
        if self.debiasing_weights is None:
            return loss
        return loss * self.debiasing_weights(targets_dict.example_index(targets))

    def get_config(self):
        weights = self.debiasing_weights
        return {
            **super().get_config(),
            "normalize": self.normalize,
            "num_train_examples": None if weights is None else weights.num_examples,
        }
