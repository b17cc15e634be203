"""Pixel normalization: scale to [0, 1], then standardize each channel."""

import tensorflow as tf

# Per-channel (mean, std) of the training images scaled to [0, 1].
# cifar10, cifar100, svhn_cropped, fashion_mnist: computed over the full training split.
# celeb_a: over the training split's aligned 218x178 images.
# imagenet2012: the usual ImageNet constants (torchvision, Keras applications).
CHANNEL_STATS = {
    "fashion_mnist": ((0.2860406,), (0.3530242,)),
    "cifar10": ((0.4913997, 0.4821584, 0.4465309), (0.2470322, 0.2434851, 0.2615878)),
    "cifar100": ((0.5070752, 0.4865489, 0.4409178), (0.2673343, 0.2564385, 0.2761505)),
    "svhn_cropped": ((0.4376821, 0.4437697, 0.4728044), (0.1980301, 0.2010156, 0.1970361)),
    "celeb_a": ((0.5068, 0.4262, 0.3835), (0.3103, 0.2903, 0.2896)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def standardize(image, mean, std) -> tf.Tensor:
    """``(image / 255 - mean) / std`` per channel, as float32 (image: [..., H, W, C] in 0..255)."""
    scaled = tf.cast(image, tf.float32) / 255.0
    return (scaled - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)
