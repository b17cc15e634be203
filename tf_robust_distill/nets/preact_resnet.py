"""Pre-activation bottleneck ResNet of He et al., "Identity Mappings in Deep Residual
Networks" (ECCV 2016), in the form of the Keras CIFAR-10 ResNet example ("ResNet v2",
depth 9n + 2), and ``resnet11``, its n = 1 instance.

The unlabeled-distillation papers (weighted distillation, SLaM) train "a ResNet-11
[He et al. 2016]" student on CelebA and do not define it further. Their training
recipe (Adam at 1e-3 with the learning rate cut at epochs 80/120/160/180, random
shifts of 0.1 and horizontal flips) is exactly that of the Keras CIFAR-10 ResNet
example, whose ResNet v2 has depth 9n + 2; depth 11 is n = 1. Its 11 weight layers
are a 3x3 stem convolution, three bottleneck units of three convolutions and the
classifier (the 1x1 projection shortcuts are not counted).

The net, as in the example: a 3x3 stem of 16 channels with BN-ReLU, then three
stages of n bottleneck units (BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1) with inner
widths 16/64/128 and output widths 64/128/256, the first unit of each stage with a
strided 1x1 projection shortcut (the first unit of stage 1 skips its first
BN-ReLU, the stem has just applied one), then BN, ReLU, global pooling and a linear
classifier. Convolutions keep their biases, as in the example.
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d, pooled_logits
from tf_robust_distill.nets.registry import register


def preactivated_conv(x, filters, kernel_size, *, strides=1, weight_decay, name, activate=True):
    """(BN, ReLU,) convolution with bias."""
    if activate:
        x = batch_norm(f"{name}_bn")(x)
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return conv2d(
        filters,
        kernel_size,
        strides=strides,
        use_bias=True,
        weight_decay=weight_decay,
        name=f"{name}_conv",
    )(x)


def preact_bottleneck_resnet(num_classes, input_shape, *, name, depth, weight_decay):
    """Pre-activation bottleneck ResNet of depth ``9n + 2``."""
    if (depth - 2) % 9:
        raise ValueError(f"A pre-activation bottleneck ResNet has depth 9n + 2, got {depth}.")
    num_units = (depth - 2) // 9
    inputs = keras.Input(input_shape)
    x = conv2d(16, 3, use_bias=True, weight_decay=weight_decay, name="stem_conv")(inputs)
    x = batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    inner = 16
    for stage in range(1, 4):
        outer = 4 * inner if stage == 1 else 2 * inner
        for index in range(1, num_units + 1):
            unit = f"stage{stage}_unit{index}"
            first = index == 1
            strides = 2 if first and stage > 1 else 1
            y = preactivated_conv(
                x,
                inner,
                1,
                strides=strides,
                weight_decay=weight_decay,
                name=f"{unit}_a",
                activate=not (first and stage == 1),
            )
            y = preactivated_conv(y, inner, 3, weight_decay=weight_decay, name=f"{unit}_b")
            y = preactivated_conv(y, outer, 1, weight_decay=weight_decay, name=f"{unit}_c")
            if first:
                x = preactivated_conv(
                    x,
                    outer,
                    1,
                    strides=strides,
                    weight_decay=weight_decay,
                    name=f"{unit}_proj",
                    activate=False,
                )
            last = index == num_units
            x = keras.layers.Add(name=f"stage{stage}" if last else f"{unit}_add")([x, y])
        inner = outer
    x = batch_norm("final_bn")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)


@register("resnet11")
def resnet11(num_classes, input_shape, *, name, weight_decay):
    """ResNet-11: the n = 1 pre-activation bottleneck ResNet, the CelebA student of the papers."""
    return preact_bottleneck_resnet(
        num_classes, input_shape, name=name, depth=11, weight_decay=weight_decay
    )
