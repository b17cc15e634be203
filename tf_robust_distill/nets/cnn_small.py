"""A small convolutional net for CPU runs on 28x28x1 images (MNIST-like, 10 classes).

Three stages of one 3x3 convolution, BN and ReLU, with 32, 32 and 64 channels and
a 2x2 max pool between stages, then global pooling and a linear classifier:
28,842 trainable parameters at 10 classes.
"""

import keras

from tf_robust_distill.nets.layers import batch_norm, conv2d, pooled_logits
from tf_robust_distill.nets.registry import register

STAGE_WIDTHS = (32, 32, 64)


@register("cnn_small")
def cnn_small(num_classes, input_shape, *, name, weight_decay):
    """Three conv-BN-ReLU stages (32, 32, 64 channels) with max pooling in between."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage, filters in enumerate(STAGE_WIDTHS, start=1):
        if stage > 1:
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        x = conv2d(filters, 3, weight_decay=weight_decay, name=f"stage{stage}_conv")(x)
        x = batch_norm(f"stage{stage}_bn")(x)
        x = keras.layers.ReLU(name=f"stage{stage}")(x)
    outputs = pooled_logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)
