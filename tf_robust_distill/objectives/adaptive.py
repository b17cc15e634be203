"""AdaMargin and AdaAlpha students (Lukasik et al. 2022, the baselines of the robust
distillation paper, §6 and App. E.5): distillation that trusts the teacher less where its
average margin for the true label is low. The losses and their formulas, our reading of
the robust paper's one-sentence description (the original formulas were not available to
us), are `tf_robust_distill.losses.adaptive`. Students only: both need the label and the teacher's
probabilities.
"""

import keras

from tf_robust_distill import losses
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel
from tf_robust_distill.objectives.registry import register


class _AdaptiveStudent(DistillationModel):
    """A student whose per-example loss is ``adaptive_loss(label, teacher_probs, logits)``.

    Not serializable itself: use a subclass, which names its loss (``adaptive_loss``).
    """

    required_targets = ("label", "teacher_probs")
    adaptive_loss = None

    def per_example_loss(self, targets, logits):
        return self.adaptive_loss(targets["label"], targets["teacher_probs"], logits)


@register("ada_margin", roles=("student",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaMarginModel(_AdaptiveStudent):
    """AdaMargin student: ``losses.adamargin_loss`` per example."""

    adaptive_loss = staticmethod(losses.adamargin_loss)


@register("ada_alpha", roles=("student",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaAlphaModel(_AdaptiveStudent):
    """AdaAlpha student: ``losses.adaalpha_loss`` per example."""

    adaptive_loss = staticmethod(losses.adaalpha_loss)
