"""CIFAR ResNets: 3 stages of basic blocks on a 3x3 stem, global pooling, linear classifier.

- ``resnet8``: the same family at n = 1 (one block per stage, 75k weights at 10
  classes), with ``base_width`` (16: He et al.'s widths 16/32/64; 8 halves them):
  not in He et al.'s tables; our CPU conv-net grids use it.
- ``resnet20/32/56/110``: He et al., "Deep Residual Learning for Image
  Recognition" (CVPR 2016), Sec. 4.2: depth 6n+2, widths 16/32/64, option-A
  (zero-padding) shortcuts as in the paper, so that the parameter counts are
  those of its Table 6 (0.27M, 0.46M, 0.85M, 1.7M on CIFAR-10).
- ``resnet8x4``, ``resnet32x4``: the 4x-wide nets of the CRD code base (Tian et
  al., "Contrastive Representation Distillation", ICLR 2020), used as teacher and
  student by SoTeacher: stem width 32, stage widths 64/128/256, projection
  (1x1 conv + BN) shortcuts wherever the shape changes.
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d, pooled_logits
from tf_robust_distill.nets.registry import register
from tf_robust_distill.nets.residual import basic_stage

HE_WIDTHS = (16, 16, 32, 64)
CRD_X4_WIDTHS = (32, 64, 128, 256)


def cifar_resnet(num_classes, input_shape, *, name, depth, widths, shortcut, weight_decay):
    """ResNet of depth ``6n + 2``; ``widths`` = (stem, stage1, stage2, stage3)."""
    if (depth - 2) % 6:
        raise ValueError(f"A CIFAR ResNet has depth 6n + 2, got {depth}.")
    inputs = keras.Input(input_shape)
    x = conv2d(widths[0], 3, weight_decay=weight_decay, name="stem_conv")(inputs)
    x = batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, (filters, strides) in enumerate(zip(widths[1:], (1, 2, 2), strict=True), start=1):
        x = basic_stage(
            x,
            stage=stage,
            num_blocks=(depth - 2) // 6,
            filters=filters,
            strides=strides,
            shortcut=shortcut,
            weight_decay=weight_decay,
        )
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)


def he_resnet(depth, num_classes, input_shape, *, name, weight_decay, widths=HE_WIDTHS):
    """A CIFAR ResNet of He et al. (2016): widths 16/32/64, option-A shortcuts."""
    return cifar_resnet(
        num_classes,
        input_shape,
        name=name,
        depth=depth,
        widths=widths,
        shortcut="zero_pad",
        weight_decay=weight_decay,
    )


def crd_x4_resnet(depth, num_classes, input_shape, *, name, weight_decay):
    """A 4x-wide CIFAR ResNet of the CRD code base: widths 64/128/256, projection shortcuts."""
    return cifar_resnet(
        num_classes,
        input_shape,
        name=name,
        depth=depth,
        widths=CRD_X4_WIDTHS,
        shortcut="projection",
        weight_decay=weight_decay,
    )


@register("resnet8")
def resnet8(num_classes, input_shape, *, name, weight_decay, base_width=16):
    """ResNet-8: He et al.'s (2016) CIFAR family at depth 8 (n = 1), stage widths
    ``base_width`` x (1, 2, 4)."""
    if not isinstance(base_width, int) or base_width < 1:
        raise ValueError(f"base_width must be a positive integer, got {base_width!r}.")
    widths = (base_width, base_width, 2 * base_width, 4 * base_width)
    return he_resnet(
        8, num_classes, input_shape, name=name, weight_decay=weight_decay, widths=widths
    )


@register("resnet20")
def resnet20(num_classes, input_shape, *, name, weight_decay):
    """ResNet-20 of He et al. (2016)."""
    return he_resnet(20, num_classes, input_shape, name=name, weight_decay=weight_decay)


@register("resnet32")
def resnet32(num_classes, input_shape, *, name, weight_decay):
    """ResNet-32 of He et al. (2016)."""
    return he_resnet(32, num_classes, input_shape, name=name, weight_decay=weight_decay)


@register("resnet56")
def resnet56(num_classes, input_shape, *, name, weight_decay):
    """ResNet-56 of He et al. (2016)."""
    return he_resnet(56, num_classes, input_shape, name=name, weight_decay=weight_decay)


@register("resnet110")
def resnet110(num_classes, input_shape, *, name, weight_decay):
    """ResNet-110 of He et al. (2016)."""
    return he_resnet(110, num_classes, input_shape, name=name, weight_decay=weight_decay)


@register("resnet8x4")
def resnet8x4(num_classes, input_shape, *, name, weight_decay):
    """ResNet-8x4 of the CRD code base (Tian et al., 2020)."""
    return crd_x4_resnet(8, num_classes, input_shape, name=name, weight_decay=weight_decay)


@register("resnet32x4")
def resnet32x4(num_classes, input_shape, *, name, weight_decay):
    """ResNet-32x4 of the CRD code base (Tian et al., 2020)."""
    return crd_x4_resnet(32, num_classes, input_shape, name=name, weight_decay=weight_decay)
