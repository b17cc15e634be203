"""The papers' data augmentations, applied to one image and driven by a stateless seed.

Each augmentation is ``fn(image, seed) -> image`` for an [H, W, C] image with a static shape and
a shape-[2] integer seed (as ``tf.image.stateless_*`` ops take), so a pipeline is deterministic
given its seeds.
"""

import tensorflow as tf

CIFAR_PADDING = 4
TRANSLATION_FRACTION = 0.1


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


AUGMENTATIONS = {"crop_flip": crop_flip, "translate": translate, "flip_translate": flip_translate}


def get_augmentation(name: str):
    """The augmentation called ``name`` (a key of ``AUGMENTATIONS``)."""
    if name not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {name!r}; allowed: {', '.join(sorted(AUGMENTATIONS))}."
        )
    return AUGMENTATIONS[name]
