"""ShuffleNetV2 of Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design" (ECCV 2018), in the CIFAR form of the CRD code base (Tian et
al., ICLR 2020) used as a student by SoTeacher.

A 1x1 stem of 24 channels (no striding, no max pool, as the code base has it for
32x32 inputs), three stages of widths 116/232/464 each made of a down-sampling unit
(Fig. 3d) and 3/7/3 basic units (Fig. 3c), a 1x1 convolution to 1024 channels,
global pooling and a linear classifier.
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d, depthwise_conv2d, pooled_logits
from tf_robust_distill.nets.registry import register

STAGE_WIDTHS = (116, 232, 464)
STAGE_BLOCKS = (3, 7, 3)
STEM_WIDTH = 24
HEAD_WIDTH = 1024


@keras.saving.register_keras_serializable(package="tf_robust_distill")
class ChannelSplit(keras.layers.Layer):
    """Splits the channels into their first and second halves (Ma et al., Sec. 3: channel split)."""

    def call(self, inputs):
        half = inputs.shape[-1] // 2
        return [inputs[..., :half], inputs[..., half:]]

    def compute_output_shape(self, input_shape):
        half = input_shape[-1] // 2
        return [(*input_shape[:-1], half), (*input_shape[:-1], input_shape[-1] - half)]


@keras.saving.register_keras_serializable(package="tf_robust_distill")
class ChannelShuffle(keras.layers.Layer):
    """Channel shuffle of Zhang et al. (ShuffleNet, CVPR 2018).

    With m = channels / groups, input channel g * m + j becomes output channel j * groups + g.
    """

    def __init__(self, groups=2, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, inputs):
        channels = inputs.shape[-1]
        shape = keras.ops.shape(inputs)
        grouped = keras.ops.reshape(
            inputs, (-1, shape[1], shape[2], self.groups, channels // self.groups)
        )
        shuffled = keras.ops.transpose(grouped, (0, 1, 2, 4, 3))
        return keras.ops.reshape(shuffled, (-1, shape[1], shape[2], channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def conv_bn(x, filters, *, weight_decay, name, relu=True):
    """1x1 convolution, BN and, if ``relu``, ReLU."""
    x = conv2d(filters, 1, weight_decay=weight_decay, name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def depthwise_bn(x, *, strides, weight_decay, name):
    """3x3 depthwise convolution and BN (no ReLU, as in the paper)."""
    x = depthwise_conv2d(3, strides=strides, weight_decay=weight_decay, name=f"{name}_dwconv")(x)
    return batch_norm(f"{name}_dwbn")(x)


def basic_unit(x, *, weight_decay, name, output_name=None):
    """Fig. 3c: split, transform the second half (1x1, 3x3 depthwise, 1x1), concatenate, shuffle."""
    kept, transformed = ChannelSplit(name=f"{name}_split")(x)
    width = transformed.shape[-1]
    transformed = conv_bn(transformed, width, weight_decay=weight_decay, name=f"{name}_a")
    transformed = depthwise_bn(transformed, strides=1, weight_decay=weight_decay, name=f"{name}_b")
    transformed = conv_bn(transformed, width, weight_decay=weight_decay, name=f"{name}_c")
    merged = keras.layers.Concatenate(name=f"{name}_concat")([kept, transformed])
    return ChannelShuffle(name=output_name or name)(merged)


def down_unit(x, filters, *, weight_decay, name):
    """Fig. 3d: two stride-2 branches of ``filters / 2`` channels, concatenated and shuffled."""
    half = filters // 2
    left = depthwise_bn(x, strides=2, weight_decay=weight_decay, name=f"{name}_left")
    left = conv_bn(left, half, weight_decay=weight_decay, name=f"{name}_left")
    right = conv_bn(x, half, weight_decay=weight_decay, name=f"{name}_right_a")
    right = depthwise_bn(right, strides=2, weight_decay=weight_decay, name=f"{name}_right")
    right = conv_bn(right, half, weight_decay=weight_decay, name=f"{name}_right_b")
    merged = keras.layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(name=name)(merged)


@register("shufflenet_v2")
def shufflenet_v2(num_classes, input_shape, *, name, weight_decay):
    """ShuffleNetV2 1x of the CRD code base."""
    inputs = keras.Input(input_shape)
    x = conv_bn(inputs, STEM_WIDTH, weight_decay=weight_decay, name="stem")
    stages = zip(STAGE_WIDTHS, STAGE_BLOCKS, strict=True)
    for stage, (filters, num_units) in enumerate(stages, start=1):
        x = down_unit(x, filters, weight_decay=weight_decay, name=f"stage{stage}_down")
        for index in range(1, num_units + 1):
            x = basic_unit(
                x,
                weight_decay=weight_decay,
                name=f"stage{stage}_unit{index}",
                output_name=f"stage{stage}" if index == num_units else None,
            )
    x = conv_bn(x, HEAD_WIDTH, weight_decay=weight_decay, name="head")
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)
