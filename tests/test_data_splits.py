"""Validation/test halves of the test set and the labeled/validation/unlabeled split."""

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.data import load, split_labeled, validation_test_halves
from tf_robust_distill.data.digits import digits_source


def test_halves_are_disjoint_and_cover_the_test_set():
    val, test = validation_test_halves(719, seed=0)
    assert len(val) == 359 and len(test) == 360
    assert not set(val) & set(test)
    np.testing.assert_array_equal(np.sort(np.concatenate([val, test])), np.arange(719))


def test_halves_are_stable_under_the_seed():
    first, second = validation_test_halves(1000, seed=5), validation_test_halves(1000, seed=5)
    np.testing.assert_array_equal(first[0], second[0])
    assert not np.array_equal(first[0], validation_test_halves(1000, seed=6)[0])


def _features(dataset):
    return np.concatenate([x for x, _ in dataset.batch(1000).as_numpy_iterator()])


def test_balanced_and_long_tailed_share_validation_and_test_sets():
    balanced = load("digits", seed=2)
    long_tailed = load("digits", seed=2, imbalance_ratio=10)
    assert len(long_tailed.train_labels) < len(balanced.train_labels)
    for split in ("val", "test"):
        np.testing.assert_array_equal(
            _features(getattr(balanced, split)), _features(getattr(long_tailed, split))
        )
        np.testing.assert_array_equal(
            getattr(balanced, f"{split}_labels"), getattr(long_tailed, f"{split}_labels")
        )


def test_loaded_halves_are_the_selected_positions_of_the_test_set():
    splits = load("digits", seed=4)
    source = digits_source()
    test_x = np.concatenate([x for x, _ in source.records("test").batch(1000)])
    test_y = source.labels("test")
    val_positions, test_positions = validation_test_halves(len(test_y), seed=4)
    np.testing.assert_array_equal(_features(splits.val), test_x[val_positions])
    np.testing.assert_array_equal(_features(splits.test), test_x[test_positions])
    np.testing.assert_array_equal(splits.val_labels, test_y[val_positions])
    np.testing.assert_array_equal(splits.test_labels, test_y[test_positions])


def _position_dataset(size):
    positions = np.arange(size)
    return tf.data.Dataset.from_tensor_slices((positions.astype(np.float32), positions % 3))


def _positions(dataset):
    return np.array([int(x) for x, _ in dataset.as_numpy_iterator()])


def test_labeled_split_takes_the_first_examples_and_splits_the_rest():
    split = split_labeled(_position_dataset(100), 20, 10, trial_seed=0)
    np.testing.assert_array_equal(split.labeled_positions, np.arange(20))
    assert len(split.validation_positions) == 10 and len(split.unlabeled_positions) == 70
    assert not set(split.validation_positions) & set(split.unlabeled_positions)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([split.validation_positions, split.unlabeled_positions])),
        np.arange(20, 100),
    )
    np.testing.assert_array_equal(_positions(split.labeled), split.labeled_positions)
    np.testing.assert_array_equal(_positions(split.validation), split.validation_positions)
    np.testing.assert_array_equal(_positions(split.unlabeled), split.unlabeled_positions)
    assert int(split.unlabeled.cardinality()) == 70


def test_labeled_split_trials_differ_and_repeat_under_their_seed():
    dataset = _position_dataset(100)
    first = split_labeled(dataset, 20, 10, trial_seed=1)
    np.testing.assert_array_equal(
        first.validation_positions, split_labeled(dataset, 20, 10, 1).validation_positions
    )
    assert not np.array_equal(
        first.validation_positions, split_labeled(dataset, 20, 10, 2).validation_positions
    )


def test_labeled_split_accepts_a_fraction():
    split = split_labeled(_position_dataset(162), 0.02, 5, trial_seed=0)
    assert len(split.labeled_positions) == 3  # floor(0.02 * 162)


def test_validation_size_larger_than_what_is_left_is_rejected():
    with pytest.raises(ValueError, match=r"validation_size must lie in \[1, 80\]"):
        split_labeled(_position_dataset(100), 20, 81, trial_seed=0)


@pytest.mark.parametrize("num_labeled", [0, 100, 1.0, 0.0])
def test_num_labeled_out_of_range_is_rejected(num_labeled):
    with pytest.raises(ValueError, match="num_labeled"):
        split_labeled(_position_dataset(100), num_labeled, 5, trial_seed=0)
