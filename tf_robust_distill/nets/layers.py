"""Layer factories that hold the conventions every net of the package shares.

- Convolutions use He-normal initialization (He et al., "Delving Deep into
  Rectifiers", ICCV 2015) and "same" padding.
- Batch normalization uses momentum 0.9 and epsilon 1e-5: the settings of the
  PyTorch code bases the papers build on (PyTorch's ``momentum=0.1`` weighs the
  new batch, so it is Keras's ``momentum=0.9``).
- Weight decay is an L2 penalty on kernels (convolutions, depthwise convolutions,
  dense layers), never on biases or batch-norm scales: see `l2_regularizer`.
- The classifier is a dense layer named ``"logits"`` computed in float32, so a
  mixed-precision policy still yields float32 logits; its input, the globally
  pooled penultimate representation, is the layer named ``"features"``.
"""

import keras

from tf_robust_distill.nets.layer_names import FEATURES_LAYER

BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5
KERNEL_INITIALIZER = "he_normal"


def l2_regularizer(weight_decay):
    """The Keras regularizer that matches SGD weight decay ``weight_decay``, or None at 0.

    The papers (PyTorch, SGD) use ``weight_decay=wd``, which adds ``wd * w`` to the
    gradient: the gradient of the loss ``(wd / 2) * ||w||^2``.
    ``keras.regularizers.L2(l)`` adds ``l * ||w||^2`` to the loss, so ``l = wd / 2``.
    """
    if weight_decay == 0:
        return None
    return keras.regularizers.L2(weight_decay / 2)


def conv2d(filters, kernel_size, *, weight_decay, strides=1, use_bias=False, name=None):
    """A 2-D convolution with the package's initializer and weight decay."""
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=KERNEL_INITIALIZER,
        kernel_regularizer=l2_regularizer(weight_decay),
        name=name,
    )


def depthwise_conv2d(kernel_size, *, weight_decay, strides=1, name=None):
    """A depthwise 2-D convolution (no bias) with the package's initializer and weight decay."""
    return keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        depthwise_initializer=KERNEL_INITIALIZER,
        depthwise_regularizer=l2_regularizer(weight_decay),
        name=name,
    )


def batch_norm(name=None):
    """Batch normalization with the package's momentum and epsilon."""
    return keras.layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name=name
    )


def dense(units, *, weight_decay, activation=None, name=None):
    """A hidden dense layer with the package's initializer and weight decay."""
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=KERNEL_INITIALIZER,
        kernel_regularizer=l2_regularizer(weight_decay),
        name=name,
    )


def logits(features, num_classes, *, weight_decay):
    """The float32 dense classifier named ``"logits"`` applied to ``features``."""
    return keras.layers.Dense(
        num_classes,
        kernel_regularizer=l2_regularizer(weight_decay),
        dtype="float32",
        name="logits",
    )(features)


def pooled_logits(feature_map, num_classes, *, weight_decay):
    """Global average pooling (the ``"features"`` layer) followed by `logits`."""
    features = keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(feature_map)
    return logits(features, num_classes, weight_decay=weight_decay)
