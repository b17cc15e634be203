"""The basic residual block of He et al., "Deep Residual Learning for Image
Recognition" (CVPR 2016), Fig. 2 left, and the stages built from it.

A block computes ``relu(F(x) + shortcut(x))`` with ``F`` = 3x3 conv, BN, ReLU,
3x3 conv, BN. The shortcut is the identity when the shapes match; otherwise

- ``"zero_pad"``: He et al.'s option A (used by their CIFAR-10 nets): identity
  subsampled by the stride, the extra channels filled with zeros (no parameters);
- ``"projection"``: option B: a strided 1x1 convolution followed by BN (the
  ImageNet nets of He et al. and the CIFAR nets of the CRD code base).
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d

SHORTCUTS = ("zero_pad", "projection")


@keras.saving.register_keras_serializable(package="tf_robust_distill")
class ZeroPadShortcut(keras.layers.Layer):
    """Option-A shortcut: every ``strides``-th pixel, channels zero-padded to ``filters``."""

    def __init__(self, filters, strides, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides

    def call(self, inputs):
        subsampled = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.filters - inputs.shape[-1]
        return keras.ops.pad(subsampled, [[0, 0], [0, 0], [0, 0], [0, extra]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def subsample(size):
            return None if size is None else -(-size // self.strides)

        return (batch, subsample(height), subsample(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def basic_block(x, filters, *, strides, shortcut, weight_decay, name, output_name=None):
    """One basic block on ``x``; its output layer is named ``output_name`` (default ``name``)."""
    conv1 = conv2d(filters, 3, strides=strides, weight_decay=weight_decay, name=f"{name}_conv1")
    residual = conv1(x)
    residual = batch_norm(f"{name}_bn1")(residual)
    residual = keras.layers.ReLU(name=f"{name}_relu1")(residual)
    residual = conv2d(filters, 3, weight_decay=weight_decay, name=f"{name}_conv2")(residual)
    residual = batch_norm(f"{name}_bn2")(residual)
    if strides != 1 or x.shape[-1] != filters:
        if shortcut == "zero_pad":
            x = ZeroPadShortcut(filters, strides, name=f"{name}_shortcut")(x)
        else:
            proj = conv2d(
                filters, 1, strides=strides, weight_decay=weight_decay, name=f"{name}_proj"
            )
            x = proj(x)
            x = batch_norm(f"{name}_proj_bn")(x)
    merged = keras.layers.Add(name=f"{name}_add")([x, residual])
    return keras.layers.ReLU(name=output_name or name)(merged)


def basic_stage(x, *, stage, num_blocks, filters, strides, shortcut, weight_decay):
    """``num_blocks`` basic blocks, the first strided; the output layer is ``stage<stage>``."""
    if shortcut not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}.")
    for index in range(1, num_blocks + 1):
        x = basic_block(
            x,
            filters,
            strides=strides if index == 1 else 1,
            shortcut=shortcut,
            weight_decay=weight_decay,
            name=f"stage{stage}_block{index}",
            output_name=f"stage{stage}" if index == num_blocks else None,
        )
    return x
