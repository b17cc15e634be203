"""AdaMargin and AdaAlpha students (Lukasik et al. 2022, the baselines of the robust
distillation paper, §6 and App. E.5): distillation that trusts the teacher less where its
average margin for the true label is low. The losses and their formulas are
`tf_robust_distill.losses.adaptive`. Students only: both need the label and the teacher's
probabilities.
"""

import keras

from tf_robust_distill import losses
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel
from tf_robust_distill.objectives.registry import register


@register("ada_margin", roles=("student",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaMarginModel(DistillationModel):
    """AdaMargin student: ``losses.adamargin_loss`` per example."""

    required_targets = ("label", "teacher_probs")

    def per_example_loss(self, targets, logits):
        return losses.adamargin_loss(targets["label"], targets["teacher_probs"], logits)


@register("ada_alpha", roles=("student",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaAlphaModel(DistillationModel):
    """AdaAlpha student: ``losses.adaalpha_loss`` per example."""

    required_targets = ("label", "teacher_probs")

    def per_example_loss(self, targets, logits):
        return losses.adaalpha_loss(targets["label"], targets["teacher_probs"], logits)
