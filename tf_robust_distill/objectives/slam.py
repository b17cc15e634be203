"""SLaM, Student-Label Mixing, and the robust-loss students it is compared and composed with.

Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee. SLaM: Student-Label Mixing for
Distillation with Unlabeled Examples. NeurIPS 2023.

The student trains on the labeled sets A and V (true labels) and on the teacher-labeled
set U. ``targets['teacher_probs']`` holds the teacher's label on U (soft, or one-hot for
hard distillation, Remark 3.1) and the one-hot true label on A and V;
``targets['labeled']`` tells them apart.

- `RobustLossModel`: vanilla distillation with the loss ℓ ∈ {cross-entropy, Taylor-CE,
  Poly-1} (the Taylor-CE and PolyLoss baselines, §4.2 and App. D.6), optionally
  fidelity-weighted (App. D.4, eq. (3); the unlabeled job's weights use the teacher's
  entropy, the weighted paper's App. C.3 scheme, not D.4's augmentation variance).
- `SLaMModel`: ℓ(y, f) on A ∪ V and ℓ(y, mix(f)) on U (eq. (2), Algorithm 1), with the
  same choices of ℓ (App. D.6) and fidelity weights (App. D.4, eq. (4)).
"""

import keras
import tensorflow as tf

from tf_robust_distill import losses
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.tempered import TemperedStudent

LOSS_VARIANTS = {
    "taylor_ce": {"base_loss": "taylor"},
    "poly": {"base_loss": "poly"},
    "fidelity": {"base_loss": "xent", "use_fidelity_weights": True},
}
"""The noise-robust losses SLaM compares with (§4.2) and composes with (App. D.4, D.6)."""


def register_loss_variants(prefix="", **plain):
    """Register a class as an unlabeled student under ``prefix + name`` for every
    `LOSS_VARIANTS` name (and under ``prefix`` alone with `plain`'s fixed arguments, if
    given); every name reads the unlabeled job's ``student.temperature``."""

    def decorate(model_class):
        variants = {prefix + name: fixed for name, fixed in LOSS_VARIANTS.items()}
        if plain:
            variants[prefix.rstrip("_")] = plain
        for name, fixed in variants.items():
            register(name, roles=("unlabeled_student",), derived=("temperature",), **fixed)(
                model_class
            )
        return model_class

    return decorate


@register_loss_variants()
@keras.saving.register_keras_serializable(package=PACKAGE)
class RobustLossModel(TemperedStudent, DistillationModel):
    """w(x) · ℓ(y, f(x)/T) over all examples: distillation with a noise-robust loss ℓ.

    Args:
      backbone: a Keras model returning logits.
      base_loss: ℓ, one of 'xent' (cross-entropy: vanilla distillation), 'taylor'
        (Taylor cross-entropy, Feng et al. 2020) or 'poly' (Poly-1, Leng et al. 2022).
      degree: Taylor-CE truncation order, an integer >= 1 (SLaM App. D.6: 2).
      epsilon: Poly-1 coefficient, >= −1 (SLaM App. D.6: 2.0).
      use_fidelity_weights: multiply the loss by ``targets['weight']``, the fidelity
        weights w(x) = exp(−β u(x)) of the teacher-labeled examples (1 on labeled ones,
        as the caller sets them; see `estimators.fidelity_weights`).
      temperature: T: ℓ reads the student's softmax(f/T) (`TemperedStudent`); SLaM
        mixes the tempered prediction.
    """

    def __init__(
        self,
        backbone,
        base_loss="taylor",
        degree=2,
        epsilon=2.0,
        use_fidelity_weights=False,
        **kwargs,
    ):
        super().__init__(backbone, **kwargs)
        self.loss_fn = losses.base_loss(base_loss, degree=degree, epsilon=epsilon)
        self.base_loss = base_loss
        self.degree = degree
        self.epsilon = epsilon
        self.use_fidelity_weights = bool(use_fidelity_weights)

    @property
    def required_targets(self):
        keys = (targets_dict.TEACHER_PROBS,)
        return (*keys, targets_dict.WEIGHT) if self.use_fidelity_weights else keys

    def prediction_log_probs(self, targets, logits):
        """Log of the prediction ℓ scores against ``targets['teacher_probs']``: log f."""
        return tf.nn.log_softmax(logits)

    def per_example_loss(self, targets, logits):
        loss = self.loss_fn(
            targets_dict.teacher_probs(targets),
            self.prediction_log_probs(targets, self.tempered(logits)),
        )
        if self.use_fidelity_weights:
            loss *= targets_dict.example_weights(targets)
        return loss

    def get_config(self):
        return {
            **super().get_config(),
            "base_loss": self.base_loss,
            "degree": self.degree,
            "epsilon": self.epsilon,
            "use_fidelity_weights": self.use_fidelity_weights,
        }


@register_loss_variants("slam_", base_loss="xent")
@keras.saving.register_keras_serializable(package=PACKAGE)
class SLaMModel(RobustLossModel):
    """SLaM: ℓ(y, f(x)) on labeled examples, ℓ(y, mix(f(x); α(x), k(x))) on teacher-labeled ones.

    Reads ``targets['alpha']`` (α(x), e.g. `TeacherAccuracyEstimator.alpha`) and
    ``targets['topk']`` (top(y_s(x); k(x)), e.g. `estimators.top_k_mask`) on the
    teacher-labeled examples; on labeled examples (``labeled`` = 1) they are ignored:
    such an example is mixed with α = 1, and mix(f; α = 1) = f. The step does not
    check α and top-k: check the arrays once with `losses.check_mixing_inputs(alpha,
    topk, labeled)` before training.

    Args:
      backbone: a Keras model returning logits.
      normalize: False for the mixing of the paper's experiments (App. B, Remark B.1),
        True for eq. (1)'s division by k(x) − 1.
      base_loss, degree, epsilon, use_fidelity_weights: see `RobustLossModel`; the
        paper's SLaM is base_loss='xent'.
    """

    def __init__(self, backbone, normalize=False, base_loss="xent", **kwargs):
        super().__init__(backbone, base_loss=base_loss, **kwargs)
        self.normalize = bool(normalize)

    @property
    def required_targets(self):
        mixing = (targets_dict.LABELED, targets_dict.ALPHA, targets_dict.TOPK)
        return (*super().required_targets, *mixing)

    def prediction_log_probs(self, targets, logits):
        """log mix(f) on teacher-labeled examples, log f on labeled ones."""
        alpha, topk = targets_dict.slam_mixing(targets)
        return losses.log_slam_mix(logits, alpha, topk, self.normalize)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}
