"""Group DRO over classes: the baseline of the robust distillation paper, App. E.7.

Sagawa et al. (2020), "Distributionally Robust Neural Networks for Group Shifts",
Algorithm 1 (online group DRO), with the classes as groups and no margin term. Each
training step measures the per-class losses of its batch,

    L_g = Σ_i w_ig ℓ(g, f(x_i)) / Σ_i w_ig,   ℓ = softmax cross-entropy,

with w_ig = 1(y_i = g) (teacher) or p^t_g(x_i) (student), sums taken over the global
batch (all replicas); a class absent from the batch has L_g = 0. It updates
q ∝ q ⊙ exp(η L) (in log space), then descends on Σ_g q_g L_g with the new q.
With ``use_validation=True`` (the paper's "with vali" variant) q is instead updated
from per-class validation risks by ``MultiplierUpdate``, as for ``RobustModel``.
"""

import keras
import tensorflow as tf

from tf_robust_distill.objectives import multipliers
from tf_robust_distill.objectives.base import PACKAGE, ProbabilityTargetModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.robust import MultiplierSettings


@register("group_dro", roles=("teacher", "student"), derived=("validation_labels",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupDROModel(MultiplierSettings, ProbabilityTargetModel):
    """Sagawa et al.'s group DRO with classes as groups; q is ``model.multipliers``.

    The loss of a global batch is Σ_g q_g L_g, a batch-level quantity (``batch_loss``):
    each replica contributes Σ_g (q_g / W_g) Σ_i w_ig ℓ(g, f(x_i)) over its examples,
    W_g = Σ_i w_ig over the global batch (q and W held constant in the gradient). q_g is
    in the logs of every epoch as ``lambda_g`` (read on the host at the epoch's end by
    `StateLogger`, which `fit` adds).

    Args:
      backbone: a Keras model returning logits.
      distill: False for one-hot labels, True for teacher probabilities.
      step_size: η > 0 of the q-update (Sagawa et al. use 0.01).
      use_validation: False updates q online in every training step; True leaves it to
        ``MultiplierUpdate`` (validation risks).
      validation_labels, risk: the validation risks when ``use_validation`` (see
        ``RobustModel``).
      multiplier_update_required: with ``use_validation``, False lets ``fit`` train
        without a `MultiplierUpdate` (q then stays as it is; see `MultiplierSettings`).
    """

    class_reweighting = "its loss Σ_g q_g L_g weights the per-class losses L_g by q"

    def __init__(
        self,
        backbone,
        distill=False,
        *,
        step_size=0.01,
        use_validation=False,
        validation_labels="one_hot",
        risk="zero_one",
        multiplier_update_required=True,
        **kwargs,
    ):
        super().__init__(backbone, distill, **kwargs)
        self.use_validation = bool(use_validation)
        self.num_classes = int(backbone.output_shape[-1])
        self.init_multipliers(step_size, validation_labels, risk, False, multiplier_update_required)

    @property
    def uses_validation_multipliers(self):
        return self.use_validation

    def update_multipliers(self, risks):
        """q ∝ q exp(η R) from per-class validation risks R (``use_validation=True``)."""
        return self.multipliers.update(risks, self.step_size)

    def batch_loss(self, targets, logits, training, sample_weight=None):
        """This replica's share Σ_g (q_g / W_g) Σ_i w_ig ℓ(g, f(x_i)) of Σ_g q_g L_g.

        In a training step without ``use_validation``, q first takes its online step
        from the global batch's L_g (Algorithm 1); evaluation leaves q alone. Sample
        weights are refused: the loss is not a mean of per-example terms.
        """
        if sample_weight is not None:
            raise ValueError(
                "GroupDROModel takes no sample weights: its loss Σ_g q_g L_g is a weighted "
                "mean of per-class losses, not a mean of per-example terms."
            )
        weights = self.probability_targets(targets, logits)
        losses = multipliers.class_losses(logits, "xent")
        loss_sums, weight_sums = multipliers.class_sums(weights, tf.stop_gradient(losses))
        loss_sums, weight_sums = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, [loss_sums, weight_sums]
        )
        if training and not self.use_validation:
            risks = multipliers.per_class_risks(loss_sums, weight_sums, xp=keras.ops)
            group_weights = self.multipliers.update(risks, self.step_size)
        else:
            group_weights = self.multipliers.current()
        scale = tf.math.divide_no_nan(group_weights, weight_sums)
        return tf.reduce_sum(scale * weights * losses)

    def get_config(self):
        return {**super().get_config(), "use_validation": self.use_validation}
