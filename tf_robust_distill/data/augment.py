"""The papers' data augmentations, applied to one image and driven by a stateless seed.

Each augmentation is ``fn(image, seed) -> image`` for an [H, W, C] image with a static shape and
a shape-[2] integer seed (as ``tf.image.stateless_*`` ops take), so a pipeline is deterministic
given its seeds.
"""

import math

import tensorflow as tf

CIFAR_PADDING = 4
TRANSLATION_FRACTION = 0.1
MAX_ROTATION_DEGREES = 20.0


def random_shift(image, seed, pad_height: int, pad_width: int, mode: str) -> tf.Tensor:
    """A random window of the padded image with the image's size.

    The image is padded by ``pad_height`` / ``pad_width`` pixels on each side (``tf.pad`` mode
    'CONSTANT' for zeros, 'SYMMETRIC' for Keras's "reflect" fill), and the window is drawn
    uniformly, i.e. the image is shifted by an integer in [-pad, pad] along each axis.
    """
    padded = tf.pad(image, [[pad_height, pad_height], [pad_width, pad_width], [0, 0]], mode=mode)
    return tf.image.stateless_random_crop(padded, size=image.shape, seed=seed)


def crop_flip(image, seed) -> tf.Tensor:
    """Random crop after 4-pixel zero padding, then a random horizontal flip.

    The standard CIFAR augmentation (He et al. 2016), used for the CIFAR experiments of the
    robust distillation and SoTeacher papers.
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    shifted = random_shift(image, crop_seed, CIFAR_PADDING, CIFAR_PADDING, "CONSTANT")
    return tf.image.stateless_random_flip_left_right(shifted, flip_seed)


def translate(image, seed) -> tf.Tensor:
    """Random translation by up to 0.1 of the height and of the width, reflected fill.

    The width/height shift of factor 0.1 of the unlabeled-distillation papers (weighted
    distillation App. C.1, SLaM App. D.1), by whole pixels (round(0.1 * H), round(0.1 * W)).
    """
    height, width = image.shape[0], image.shape[1]
    return random_shift(
        image,
        seed,
        round(TRANSLATION_FRACTION * height),
        round(TRANSLATION_FRACTION * width),
        "SYMMETRIC",
    )


def flip_translate(image, seed) -> tf.Tensor:
    """Random horizontal flip, then ``translate``: the full recipe of the unlabeled papers."""
    flip_seed, translate_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    return translate(tf.image.stateless_random_flip_left_right(image, flip_seed), translate_seed)


def rotate_by(image, radians) -> tf.Tensor:
    """`image` rotated by `radians` about its centre (bilinear, zeros outside the image).

    The projective transform maps each output pixel (x, y) to the input point
    R(θ)·((x, y) − c) + c, c the centre ((W − 1)/2, (H − 1)/2), R(θ) the rotation matrix
    [[cos θ, −sin θ], [sin θ, cos θ]]: with rows growing downwards, the content turns by
    θ counter-clockwise on screen (π/2 is ``np.rot90``).
    """
    height, width = image.shape[0], image.shape[1]
    radians = tf.cast(radians, tf.float32)
    cos, sin = tf.cos(radians), tf.sin(radians)
    center_x, center_y = (width - 1) / 2.0, (height - 1) / 2.0
    offset_x = center_x - cos * center_x + sin * center_y
    offset_y = center_y - sin * center_x - cos * center_y
    transform = tf.stack([cos, -sin, offset_x, sin, cos, offset_y, 0.0, 0.0])
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[tf.newaxis],
        transforms=transform[tf.newaxis],
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return tf.cast(rotated[0], image.dtype)


def rotate(image, seed, max_degrees=MAX_ROTATION_DEGREES) -> tf.Tensor:
    """Rotation by an angle drawn uniformly in [−max_degrees, max_degrees] (`rotate_by`)."""
    degrees = tf.random.stateless_uniform([], seed, -max_degrees, max_degrees)
    return rotate_by(image, degrees * (math.pi / 180.0))


def rotate_crop_flip(image, seed) -> tf.Tensor:
    """Random rotation of at most 20°, then ``crop_flip``.

    SoTeacher's Tiny-ImageNet augmentation (App. D: "random rotation with a maximum
    degree of 20, random cropping and random horizontal flipping").
    """
    rotate_seed, crop_flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    return crop_flip(rotate(image, rotate_seed), crop_flip_seed)


AUGMENTATIONS = {
    "crop_flip": crop_flip,
    "translate": translate,
    "flip_translate": flip_translate,
    "rotate_crop_flip": rotate_crop_flip,
}


def get_augmentation(name: str):
    """The augmentation called ``name`` (a key of ``AUGMENTATIONS``)."""
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {name!r}; allowed: {', '.join(sorted(AUGMENTATIONS))}."
        )
    return AUGMENTATIONS[name]
