"""Per-example losses: pure TensorFlow functions, one value per example, no reduction.

Every function returns a float32 tensor of shape [batch]. Reduction (sum over the
global batch divided by the global batch size) happens once, in
`tf_robust_distill.objectives.base.DistillationModel`, so results do not depend on
the number of replicas.
"""

from tf_robust_distill.losses.adaptive import adaalpha_loss, adamargin_loss, teacher_margin
from tf_robust_distill.losses.cross_entropy import (
    kd_loss,
    margin_adjusted_logits,
    margin_loss,
    softmax_cross_entropy,
)
from tf_robust_distill.losses.feature import (
    attention_map,
    attention_transfer_loss,
    hint_regression_loss,
)
from tf_robust_distill.losses.noise_robust import (
    BASE_LOSSES,
    base_loss,
    check_degree,
    check_epsilon,
    cross_entropy_of_log_probs,
    poly1_cross_entropy,
    poly1_cross_entropy_of_log_probs,
    taylor_cross_entropy,
    taylor_cross_entropy_of_log_probs,
)
from tf_robust_distill.losses.slam import check_mixing_inputs, log_slam_mix, slam_loss, slam_mix
from tf_robust_distill.losses.vid import vid_negative_log_likelihood, vid_variance

__all__ = [
    "adaalpha_loss",
    "adamargin_loss",
    "attention_map",
    "attention_transfer_loss",
    "hint_regression_loss",
    "BASE_LOSSES",
    "base_loss",
    "check_degree",
    "check_epsilon",
    "check_mixing_inputs",
    "cross_entropy_of_log_probs",
    "kd_loss",
    "log_slam_mix",
    "margin_adjusted_logits",
    "margin_loss",
    "poly1_cross_entropy",
    "poly1_cross_entropy_of_log_probs",
    "slam_loss",
    "slam_mix",
    "softmax_cross_entropy",
    "taylor_cross_entropy",
    "taylor_cross_entropy_of_log_probs",
    "teacher_margin",
    "vid_negative_log_likelihood",
    "vid_variance",
]
