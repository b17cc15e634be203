"""Wide Residual Networks of Zagoruyko & Komodakis, "Wide Residual Networks" (BMVC 2016),
as implemented in the CRD code base (Tian et al., ICLR 2020) that SoTeacher uses.

WRN-d-k: a 3x3 stem of 16 channels, three stages of (d - 4) / 6 pre-activation
blocks (BN, ReLU, 3x3 conv, BN, ReLU, 3x3 conv) of widths 16k, 32k, 64k, then BN,
ReLU, global pooling and a linear classifier. When the width changes, the block's
first BN-ReLU is applied before the split and the shortcut is a strided 1x1
convolution of the activated input; otherwise the shortcut is the identity.
No dropout (the code base's default).
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d, pooled_logits
from tf_robust_distill.nets.registry import register


def wide_block(x, filters, *, strides, weight_decay, name, output_name=None):
    """One pre-activation block of the CRD Wide ResNet; output layer ``output_name`` or ``name``."""
    activated = batch_norm(f"{name}_bn1")(x)
    activated = keras.layers.ReLU(name=f"{name}_relu1")(activated)
    conv1 = conv2d(filters, 3, strides=strides, weight_decay=weight_decay, name=f"{name}_conv1")
    residual = conv1(activated)
    residual = batch_norm(f"{name}_bn2")(residual)
    residual = keras.layers.ReLU(name=f"{name}_relu2")(residual)
    residual = conv2d(filters, 3, weight_decay=weight_decay, name=f"{name}_conv2")(residual)
    if x.shape[-1] != filters:
        proj = conv2d(filters, 1, strides=strides, weight_decay=weight_decay, name=f"{name}_proj")
        x = proj(activated)
    return keras.layers.Add(name=output_name or name)([x, residual])


def wide_resnet(num_classes, input_shape, *, name, depth, width, weight_decay):
    """WRN-``depth``-``width``; ``depth`` is 6n + 4."""
    if (depth - 4) % 6:
        raise ValueError(f"A Wide ResNet has depth 6n + 4, got {depth}.")
    num_blocks = (depth - 4) // 6
    inputs = keras.Input(input_shape)
    x = conv2d(16, 3, weight_decay=weight_decay, name="stem_conv")(inputs)
    stages = zip((16 * width, 32 * width, 64 * width), (1, 2, 2), strict=True)
    for stage, (filters, strides) in enumerate(stages, start=1):
        for index in range(1, num_blocks + 1):
            x = wide_block(
                x,
                filters,
                strides=strides if index == 1 else 1,
                weight_decay=weight_decay,
                name=f"stage{stage}_block{index}",
                output_name=f"stage{stage}" if index == num_blocks else None,
            )
    x = batch_norm("final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)


@register("wrn_16_2")
def wrn_16_2(num_classes, input_shape, *, name, weight_decay):
    """WRN-16-2 (Zagoruyko & Komodakis, 2016)."""
    return wide_resnet(
        num_classes, input_shape, name=name, depth=16, width=2, weight_decay=weight_decay
    )


@register("wrn_40_1")
def wrn_40_1(num_classes, input_shape, *, name, weight_decay):
    """WRN-40-1 (Zagoruyko & Komodakis, 2016)."""
    return wide_resnet(
        num_classes, input_shape, name=name, depth=40, width=1, weight_decay=weight_decay
    )


@register("wrn_40_2")
def wrn_40_2(num_classes, input_shape, *, name, weight_decay):
    """WRN-40-2 (Zagoruyko & Komodakis, 2016)."""
    return wide_resnet(
        num_classes, input_shape, name=name, depth=40, width=2, weight_decay=weight_decay
    )
