"""Objectives with a term on the student's intermediate outputs, read in one forward pass.

FitNets and attention transfer (`feature_distillation`) and VID (`vid`) add to an
objective's per-example loss a term between the outputs of some of the student's
layers, computed in the same forward pass as its logits, and the teacher's targets,
read from the targets dict: the teacher never runs in the step
(`data.TeacherFeatures` computes them once).
"""

import keras
import tensorflow as tf

from tf_robust_distill.data.teacher_features import layer_outputs
from tf_robust_distill.objectives.base import DistillationModel, mean_over_global_batch
from tf_robust_distill.objectives.targets import feature_targets


class FeatureTermModel(DistillationModel):
    """The objective's per-example loss plus a term on the student's layers, per example.

    Builds the (layer outputs..., logits) model from the backbone once. A subclass
    passes the layers it reads (`layer_names`) and defines the key of the teacher's
    targets (`target_key`), their width (`teacher_width`) and the weighted term
    (`feature_term`). Not serializable itself: use a subclass.

    Args:
      backbone: a functional Keras model returning logits, with the layers `layer_names`.
      layer_names: the backbone's layers whose outputs the term reads.
    """

    target_key = None

    def __init__(self, backbone, layer_names, **kwargs):
        super().__init__(backbone, **kwargs)
        self.layer_names = tuple(layer_names)
        outputs = layer_outputs(backbone, self.layer_names)
        self.outputs_and_logits = keras.Model(backbone.input, [*outputs, backbone.output])

    @property
    def required_targets(self):
        return (*super().required_targets, self.target_key)

    @property
    def teacher_width(self):
        """Number of values per example of ``targets[target_key]``."""
        raise NotImplementedError(f"{type(self).__name__} must define teacher_width")

    def teacher_layout(self):
        """What ``targets[target_key]`` holds, for error messages ("the teacher's features")."""
        return f"the teacher's {self.target_key.removeprefix('teacher_')}"

    def feature_term(self, student_outputs, teacher_targets):
        """The weighted per-example term [batch] from the layers' outputs and the teacher's."""
        raise NotImplementedError(f"{type(self).__name__} must implement feature_term")

    def feature_loss(self, targets, logits, student_outputs, training):
        """Per-example loss [batch]: the objective's loss plus ``feature_term``."""
        teacher = feature_targets(
            targets, self.target_key, self.teacher_width, self.teacher_layout(), type(self).__name__
        )
        term = self.feature_term(student_outputs, teacher)
        return self.example_losses(targets, logits, training) + term

    def logits_and_loss(self, x, targets, training, sample_weight=None):
        """Float32 logits and the mean of ``feature_loss`` (each example's times its sample
        weight, if any) from one forward pass of the student."""
        *student_outputs, logits = self.outputs_and_logits(x, training=training)
        logits = tf.cast(logits, tf.float32)
        per_example = self.feature_loss(targets, logits, student_outputs, training)
        return logits, mean_over_global_batch(per_example, sample_weight)
