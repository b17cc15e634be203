"""MobileNet (v1) of Howard et al., "MobileNets: Efficient Convolutional Neural
Networks for Mobile Vision Applications" (2017), from ``keras.applications``.

The unlabeled-distillation papers (weighted distillation, SLaM) train "a MobileNet
with depth multiplier 2" as teacher and "with depth multiplier 1" as student. In
Google's reference implementation of MobileNet the "depth multiplier" scales the
number of channels of every layer: it is the width multiplier α of Howard et al.
(Sec. 3.3), which ``keras.applications.MobileNet`` calls ``alpha``. (Keras's own
``depth_multiplier`` argument is a different knob, the channel multiplier of the
depthwise convolutions alone.) So ``alpha=1`` is the student and ``alpha=2`` the
teacher of those papers.

The stages end where the resolution is 1/4, 1/8, 1/16 and 1/32 of the input.
"""

import keras

from tf_robust_distill import checks
from tf_robust_distill.nets.applications import adopted
from tf_robust_distill.nets.layers import pooled_logits
from tf_robust_distill.nets.registry import register

STAGE_OUTPUTS = ("conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu")


@register("mobilenet")
def mobilenet(num_classes, input_shape, *, name, weight_decay, alpha=1.0):
    """MobileNet with width multiplier ``alpha > 0`` (input at least 32x32)."""
    if not checks.is_real(alpha) or alpha <= 0:
        raise ValueError(f"alpha (the MobileNet width multiplier) must be > 0, got {alpha!r}.")
    body = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=input_shape, alpha=alpha
    )
    body = adopted(body, stage_outputs=STAGE_OUTPUTS, weight_decay=weight_decay)
    outputs = pooled_logits(body.output, num_classes, weight_decay=weight_decay)
    return keras.Model(body.input, outputs, name=name)
