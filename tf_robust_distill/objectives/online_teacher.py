"""A frozen teacher run inside the student's train step, on the step's (augmented) batch.

By default a student reads teacher targets cached once on the unaugmented training set
(`data.TeacherLabels`, `data.TeacherFeatures`): with augmentation it then sees an
augmented image with the clean image's targets. SoTeacher's released code
(``train_student.py``, the RepDistiller loop) and the Keras knowledge-distillation
example's ``Distiller`` instead run the teacher on every batch the student sees.
`OnlineTeacher` does so for any `DistillationModel`: attached with
``model.attach_teacher(OnlineTeacher(...))``, it fills the targets' ``teacher_probs``
(softmax(f_t(x)/T), as `TeacherLabels.probs`) and, for a feature student, its feature
targets (as `TeacherFeatures`) in every train and test step, so every objective that
reads those keys works in both modes unchanged.

The teacher runs in inference mode (batch norm with its moving statistics) without
gradient; its outputs are cast to float32 before the softmax, so a ``mixed_float16``
teacher gives float32 probabilities. Under tf.distribute each replica runs it on its
own examples, which, every target being per example, equals one device.
"""

import keras
import tensorflow as tf

from tf_robust_distill.data.teacher_features import (
    DEFAULT_STAGES,
    SUMMARIES,
    TARGET_KEYS,
    layer_outputs,
    spatial_shapes,
)
from tf_robust_distill.nets.layer_names import FEATURES_LAYER
from tf_robust_distill.objectives.targets import TEACHER_PROBS


class OnlineTeacher:
    """Teacher targets of a batch, computed in the step by a frozen teacher.

    Deliberately not a Keras layer: the student does not track the teacher's variables,
    so they are neither trained nor saved with the student (a saved student loads as a
    student reading cached targets; attach a teacher again to keep training online).
    Build the teacher in the strategy's scope that the student is trained in.

    Args:
      model: the teacher: a functional Keras model returning logits (e.g. a trained
        objective's ``backbone``).
      temperature: T > 0 of ``teacher_probs`` = softmax(f_t(x)/T).
      kind: None (probabilities only), 'features' or 'attention': the feature targets
        a student also reads (see `data.TeacherFeatures`).
      stages: for 'attention', the teacher's stage layers.
    """

    def __init__(self, model, temperature=1.0, kind=None, stages=DEFAULT_STAGES):
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if kind is not None and kind not in TARGET_KEYS:
            raise ValueError(f"kind must be None or one of {', '.join(TARGET_KEYS)}; got {kind!r}")
        self.temperature = float(temperature)
        self.kind = kind
        layers = () if kind is None else (FEATURES_LAYER,) if kind == "features" else stages
        self.layers = tuple(layers)
        outputs = layer_outputs(model, self.layers) if self.layers else []
        self.extractor = keras.Model(model.input, [*outputs, model.output])

    @property
    def feature_dim(self):
        """Width of the 'features' targets (a student's ``teacher_feature_dim``)."""
        return int(self.extractor.outputs[0].shape[-1])

    @property
    def spatial_shapes(self):
        """((H, W), ...) of the 'attention' stages (a student's ``teacher_spatial_shapes``)."""
        return spatial_shapes(self.extractor.outputs[:-1], self.layers)

    def targets(self, x):
        """{``teacher_probs``: [batch, C] float32, and the feature targets of `kind`}."""
        *outputs, logits = tf.nest.flatten(self.extractor(x, training=False))
        logits = tf.stop_gradient(tf.cast(logits, tf.float32))
        found = {TEACHER_PROBS: tf.nn.softmax(logits / self.temperature)}
        if self.kind is not None:
            found[TARGET_KEYS[self.kind]] = tf.stop_gradient(SUMMARIES[self.kind](outputs))
        return found
