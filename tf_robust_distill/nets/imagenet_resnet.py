"""ImageNet ResNets of He et al., "Deep Residual Learning for Image Recognition"
(CVPR 2016), Table 1.

- ``resnet18``, ``resnet34``: a 7x7/2 convolution and a 3x3/2 max pool, then four
  stages of basic blocks (widths 64/128/256/512; 2-2-2-2 and 3-4-6-3 blocks),
  projection (option B) shortcuts where the shape changes, global pooling and a
  linear classifier: 11.69M and 21.80M parameters at 1000 classes.
- ``resnet50``: ``keras.applications.ResNet50`` (bottleneck blocks, ``weights=None``),
  adopted to the package conventions; its convolutions keep their biases, so it
  has 25.58M parameters against the 25.56M of the bias-free original.
"""

import keras

from tf_robust_distill.nets.applications import adopted
from tf_robust_distill.nets.layers import batch_norm, conv2d, pooled_logits
from tf_robust_distill.nets.registry import register
from tf_robust_distill.nets.residual import basic_stage

WIDTHS = (64, 128, 256, 512)
RESNET50_STAGE_OUTPUTS = (
    "conv2_block3_out",
    "conv3_block4_out",
    "conv4_block6_out",
    "conv5_block3_out",
)


def basic_imagenet_resnet(num_classes, input_shape, *, name, blocks_per_stage, weight_decay):
    """ImageNet ResNet of basic blocks with ``blocks_per_stage`` blocks in its four stages."""
    inputs = keras.Input(input_shape)
    x = conv2d(WIDTHS[0], 7, strides=2, weight_decay=weight_decay, name="stem_conv")(inputs)
    x = batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    stages = zip(WIDTHS, blocks_per_stage, (1, 2, 2, 2), strict=True)
    for stage, (filters, num_blocks, strides) in enumerate(stages, start=1):
        x = basic_stage(
            x,
            stage=stage,
            num_blocks=num_blocks,
            filters=filters,
            strides=strides,
            shortcut="projection",
            weight_decay=weight_decay,
        )
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)


@register("resnet18")
def resnet18(num_classes, input_shape, *, name, weight_decay):
    """ResNet-18 of He et al. (2016)."""
    return basic_imagenet_resnet(
        num_classes,
        input_shape,
        name=name,
        blocks_per_stage=(2, 2, 2, 2),
        weight_decay=weight_decay,
    )


@register("resnet34")
def resnet34(num_classes, input_shape, *, name, weight_decay):
    """ResNet-34 of He et al. (2016)."""
    return basic_imagenet_resnet(
        num_classes,
        input_shape,
        name=name,
        blocks_per_stage=(3, 4, 6, 3),
        weight_decay=weight_decay,
    )


@register("resnet50")
def resnet50(num_classes, input_shape, *, name, weight_decay):
    """ResNet-50 of He et al. (2016), from ``keras.applications`` (input at least 32x32)."""
    body = keras.applications.ResNet50(include_top=False, weights=None, input_shape=input_shape)
    body = adopted(body, stage_outputs=RESNET50_STAGE_OUTPUTS, weight_decay=weight_decay)
    outputs = pooled_logits(body.output, num_classes, weight_decay=weight_decay)
    return keras.Model(body.input, outputs, name=name)
