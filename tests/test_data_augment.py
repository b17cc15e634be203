"""The papers' augmentations: shapes, windows of the padded image, determinism."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.data import crop_flip, flip_translate, translate
from tf_robust_distill.data.augment import get_augmentation, rotate, rotate_by, rotate_crop_flip

IMAGE = np.arange(32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3) + 1.0


def windows(padded, size):
    """Every size x size window of a padded [H, W, C] image, keyed by its offset."""
    span = padded.shape[0] - size + 1
    return {
        (top, left): padded[top : top + size, left : left + size]
        for top in range(span)
        for left in range(span)
    }


def matching_offset(output, padded, size):
    for offset, window in windows(padded, size).items():
        if np.array_equal(output, window):
            return offset
    return None


def test_crop_flip_is_a_window_of_the_zero_padded_image_maybe_flipped():
    padded = np.pad(IMAGE, [(4, 4), (4, 4), (0, 0)])
    offsets, flips = set(), 0
    for seed in range(40):
        output = crop_flip(tf.constant(IMAGE), tf.constant([seed, 7])).numpy()
        assert output.shape == IMAGE.shape
        offset = matching_offset(output, padded, 32)
        if offset is None:
            offset = matching_offset(output[:, ::-1], padded, 32)
            flips += 1
        assert offset is not None
        offsets.add(offset)
    assert len(offsets) > 10 and 5 < flips < 35


def test_translate_is_a_window_of_the_reflected_image_shifted_at_most_a_tenth():
    padded = np.pad(IMAGE, [(3, 3), (3, 3), (0, 0)], mode="symmetric")  # round(0.1 * 32) = 3
    offsets = set()
    for seed in range(40):
        output = translate(tf.constant(IMAGE), tf.constant([seed, 1])).numpy()
        offset = matching_offset(output, padded, 32)
        assert offset is not None
        offsets.add(offset)
    assert len(offsets) > 10


def test_flip_translate_is_a_flipped_or_plain_translation():
    padded = np.pad(IMAGE, [(3, 3), (3, 3), (0, 0)], mode="symmetric")
    flipped = np.pad(IMAGE[:, ::-1], [(3, 3), (3, 3), (0, 0)], mode="symmetric")
    for seed in range(10):
        output = flip_translate(tf.constant(IMAGE), tf.constant([seed, 2])).numpy()
        assert (
            matching_offset(output, padded, 32) is not None
            or matching_offset(output, flipped, 32) is not None
        )


def test_rotation_by_quarter_turns_equals_numpy_rot90():
    """Turning by θ counter-clockwise on screen: π/2 is np.rot90 (k = 1), −π/2 is k = −1."""
    for radians, k in ((0.0, 0), (math.pi / 2, 1), (-math.pi / 2, -1), (math.pi, 2)):
        rotated = rotate_by(tf.constant(IMAGE), tf.constant(radians)).numpy()
        np.testing.assert_allclose(rotated, np.rot90(IMAGE, k=k, axes=(0, 1)), rtol=1e-5)


def test_rotation_angle_stays_within_twenty_degrees():
    """Every rotated image is rotate_by at an angle in [-20°, 20°] (searched in 0.05° steps)."""
    angles = np.deg2rad(np.arange(-20.0, 20.0001, 0.05))
    for seed in range(5):
        output = rotate(tf.constant(IMAGE), tf.constant([seed, 1])).numpy()
        errors = [np.abs(output - rotate_by(tf.constant(IMAGE), a).numpy()).max() for a in angles]
        assert min(errors) < 0.05 * IMAGE.max()


@pytest.mark.parametrize("augment", [crop_flip, translate, flip_translate, rotate_crop_flip])
def test_augmentations_are_deterministic_given_the_seed(augment):
    first = augment(tf.constant(IMAGE), tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(first, augment(tf.constant(IMAGE), tf.constant([3, 4])).numpy())
    others = [augment(tf.constant(IMAGE), tf.constant([s, 4])).numpy() for s in range(5, 10)]
    assert any(not np.array_equal(first, other) for other in others)


def test_unknown_augmentation_is_rejected():
    with pytest.raises(ValueError, match="unknown augmentation 'cutout'; allowed: crop_flip"):
        get_augmentation("cutout")
