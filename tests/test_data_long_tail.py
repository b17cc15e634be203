"""Long-tail profile (Cui et al. 2019) and the long-tailed subsample."""

import math

import numpy as np
import pytest

from tf_robust_distill.data import load, long_tail_counts, long_tail_positions


def transcribed_counts(counts, ratio):
    """n_i = floor(n_max * ratio^(-i / (C - 1))), capped at the class's count."""
    n_max, num_classes = max(counts), len(counts)
    return [
        min(math.floor(n_max * ratio ** (-i / (num_classes - 1))), counts[i])
        for i in range(num_classes)
    ]


@pytest.mark.parametrize(
    ("per_class", "expected_total"),
    [(5000, 12_406), (6000, 14_886)],  # CIFAR-10-LT, Fashion-MNIST-LT at ratio 100
)
def test_published_long_tail_sizes(per_class, expected_total):
    counts = long_tail_counts(np.full(10, per_class), 100)
    assert counts.sum() == expected_total
    assert counts[0] == per_class and counts[-1] == per_class // 100


def test_counts_match_direct_transcription():
    rng = np.random.default_rng(0)
    for _ in range(20):
        num_classes = int(rng.integers(2, 30))
        counts = rng.integers(500, 3000, size=num_classes)
        ratio = float(rng.uniform(1, 50))
        expected = transcribed_counts(counts.tolist(), ratio)
        np.testing.assert_array_equal(long_tail_counts(counts, ratio), expected)


def test_a_class_never_keeps_more_than_it_has():
    counts = long_tail_counts(np.array([100, 5000, 5000]), 10)
    np.testing.assert_array_equal(counts, [100, 1581, 500])


def test_ratio_below_one_is_rejected():
    with pytest.raises(ValueError, match="at least 1"):
        long_tail_counts(np.full(10, 100), 0.5)


def test_a_class_left_empty_is_named():
    # 10 * 100^(-5/9) = 0.77: class 5 is the first to keep nothing.
    with pytest.raises(ValueError, match="class 5 would keep no example"):
        long_tail_counts(np.full(10, 10), 100)


def test_positions_keep_profile_counts_and_depend_on_seed():
    labels = np.random.default_rng(1).integers(0, 5, size=2000)
    positions = long_tail_positions(labels, 5, 10, seed=3)
    assert np.all(np.diff(positions) > 0)
    expected = long_tail_counts(np.bincount(labels, minlength=5), 10)
    np.testing.assert_array_equal(np.bincount(labels[positions], minlength=5), expected)
    np.testing.assert_array_equal(positions, long_tail_positions(labels, 5, 10, seed=3))
    assert not np.array_equal(positions, long_tail_positions(labels, 5, 10, seed=4))


def test_load_long_tailed_synthetic_has_cifar10_lt_size():
    splits = load("synthetic", imbalance_ratio=100)
    np.testing.assert_array_equal(
        np.bincount(splits.train_labels), long_tail_counts(np.full(10, 5000), 100)
    )
    assert int(splits.train.cardinality()) == 12_406
    first_batch_labels = next(iter(splits.train.batch(12_406)))[1].numpy()
    np.testing.assert_array_equal(first_batch_labels, splits.train_labels)


def test_load_rejects_ratio_below_one_before_reading_anything(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):  # not FileNotFoundError
        load(f"npz:{tmp_path / 'absent.npz'}", imbalance_ratio=0.9)
