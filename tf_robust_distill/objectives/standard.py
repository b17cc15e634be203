"""The standard objective and Hinton's knowledge distillation.

Robust distillation paper (Wang et al.), eq. (1) and (5): the teacher minimizes
L^std, the softmax cross-entropy against one-hot labels; a student minimizes
L^std-d, the same loss against the teacher's probabilities p^t(x). KDModel is
Hinton et al.'s mix of both, used by the SoTeacher paper (α = 0.5, T = 4, App. D.2).
"""

import keras
import tensorflow as tf

from tf_robust_distill import checks, losses
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel, ProbabilityTargetModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.tempered import TemperedStudent


@register("std", roles=("teacher", "student"))
@register("vanilla", roles=("unlabeled_student",), derived=("temperature",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class StandardModel(TemperedStudent, ProbabilityTargetModel):
    """L^std (teacher, ``distill=False``) or L^std-d (student, ``distill=True``).

    Per example: softmax cross-entropy against the one-hot label or the teacher's
    probabilities (see `ProbabilityTargetModel`).

    Args:
      backbone: a Keras model returning logits.
      distill: False trains against ``targets['label']`` (one-hot); True against
        ``targets['teacher_probs']``.
      temperature: T, the student's softmax(f/T) (`TemperedStudent`; ``vanilla`` reads
        the unlabeled job's ``student.temperature``).
    """

    def per_example_loss(self, targets, logits):
        return losses.softmax_cross_entropy(
            self.probability_targets(targets, logits), self.tempered(logits)
        )


@register("kd", roles=("student",), derived=("temperature",))
@keras.saving.register_keras_serializable(package=PACKAGE)
class KDModel(DistillationModel):
    """Hinton et al. (2015): α·xent(y, f) + (1 − α)·T²·KL(p^t_T ‖ softmax(f/T)).

    The teacher's side p^t_T = softmax(f^t/T) comes from ``targets['teacher_logits']``
    (the teacher's logits f^t, e.g. ``TeacherLabels.logits``), tempered here at the
    model's T, so that no other temperature can reach the loss; or from
    ``targets['teacher_probs']``, which must then be already at T
    (``TeacherLabels.probs(temperature=T)``; the probabilities cannot tell their
    temperature). One of the two keys, not both. An `OnlineTeacher` attached at
    another temperature is refused.

    Args:
      backbone: a Keras model returning logits.
      alpha: weight of the true-label term, in [0, 1] (SoTeacher: 0.5).
      temperature: T > 0 (SoTeacher: 4).
    """

    required_targets = (targets_dict.LABEL, targets_dict.TEACHER_PROBS)

    def __init__(self, backbone, alpha=0.5, temperature=4.0, **kwargs):
        super().__init__(backbone, **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.temperature = checks.check_temperature(temperature)

    def step_targets(self, x, targets):
        """The base's targets, with p^t_T = softmax(teacher_logits / T) as ``teacher_probs``."""
        targets = super().step_targets(x, targets)
        if targets_dict.TEACHER_LOGITS not in targets:
            return targets
        if targets_dict.TEACHER_PROBS in targets:
            raise ValueError(
                "KDModel reads either targets['teacher_logits'] (tempered at its T inside) or "
                "targets['teacher_probs'] (already at T), not both: drop one of them."
            )
        teacher_logits = tf.cast(targets[targets_dict.TEACHER_LOGITS], tf.float32)
        teacher_probs = tf.nn.softmax(teacher_logits / self.temperature)
        return {**targets, targets_dict.TEACHER_PROBS: teacher_probs}

    def attach_teacher(self, online_teacher):
        """`DistillationModel.attach_teacher`, refusing a teacher at another temperature."""
        if online_teacher is not None and online_teacher.temperature != self.temperature:
            raise ValueError(
                f"KDModel(temperature={self.temperature}) needs the teacher's probabilities at "
                f"the same T, but the OnlineTeacher gives them at temperature="
                f"{online_teacher.temperature}: build it with temperature={self.temperature}."
            )
        super().attach_teacher(online_teacher)

    def per_example_loss(self, targets, logits):
        return losses.kd_loss(
            targets_dict.labels(targets),
            targets_dict.teacher_probs(targets),
            logits,
            alpha=self.alpha,
            temperature=self.temperature,
        )

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "temperature": self.temperature}
