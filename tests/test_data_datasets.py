"""load(): the registry, digits, npz files and errors."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tf_robust_distill.data import DATASET_NAMES, load


def _arrays(dataset):
    xs, ys = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.stack(xs), np.array(ys)


def test_unknown_name_lists_the_allowed_names():
    with pytest.raises(ValueError, match="unknown dataset 'cifar11'") as error:
        load("cifar11")
    for name in DATASET_NAMES:
        assert name in str(error.value)


def test_digits_is_a_stratified_60_40_split_scaled_by_16():
    splits = load("digits")
    digits = load_digits()
    x_train, _, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.4, stratify=digits.target, random_state=0
    )
    x, y = _arrays(splits.train)
    assert splits.input_shape == (8, 8, 1) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x[..., 0], x_train / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(y, y_train)
    np.testing.assert_array_equal(splits.train_labels, y_train)
    assert len(splits.val_labels) + len(splits.test_labels) == len(y_test) == 719
    assert splits.num_classes == 10 and splits.class_names[3] == "3"
    assert splits.class_probabilities is None


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


def _npz_arrays(rng, with_val=False):
    arrays = {
        "x_train": rng.normal(size=(30, 5)),
        "y_train": rng.integers(0, 3, size=30),
        "x_test": rng.normal(size=(11, 5)),
        "y_test": rng.integers(0, 3, size=11),
    }
    if with_val:
        arrays.update(x_val=rng.normal(size=(7, 5)), y_val=rng.integers(0, 3, size=7))
    return arrays


def test_npz_flat_features_halve_the_test_set(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(0))
    arrays["y_train"][0] = 2
    splits = load(_write_npz(tmp_path / "d.npz", **arrays), seed=1)
    assert splits.input_shape == (5,) and splits.num_classes == 3
    x, y = _arrays(splits.train)
    np.testing.assert_allclose(x, arrays["x_train"].astype(np.float32))
    np.testing.assert_array_equal(y, arrays["y_train"])
    assert len(splits.val_labels) == 5 and len(splits.test_labels) == 6


def test_full_test_set_tests_on_every_test_example_and_keeps_the_validation_half(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(0))
    path = _write_npz(tmp_path / "d.npz", **arrays)
    halved, full = load(path, seed=1), load(path, seed=1, full_test_set=True)
    x, y = _arrays(full.test)
    np.testing.assert_allclose(x, arrays["x_test"].astype(np.float32))
    np.testing.assert_array_equal(y, arrays["y_test"])
    np.testing.assert_array_equal(full.test_labels, arrays["y_test"])
    np.testing.assert_array_equal(full.val_labels, halved.val_labels)


def test_npz_with_validation_arrays_keeps_the_whole_test_set(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(1), with_val=True)
    arrays["y_train"][0] = 2
    splits = load(_write_npz(tmp_path / "d.npz", **arrays))
    np.testing.assert_array_equal(_arrays(splits.val)[1], arrays["y_val"])
    np.testing.assert_array_equal(_arrays(splits.test)[1], arrays["y_test"])
    np.testing.assert_array_equal(splits.test_labels, arrays["y_test"])


def test_npz_images_keep_their_shape(tmp_path):
    rng = np.random.default_rng(2)
    path = _write_npz(
        tmp_path / "d.npz",
        x_train=rng.integers(0, 255, size=(6, 4, 4, 3), dtype=np.uint8),
        y_train=np.array([0, 1, 0, 1, 0, 1]),
        x_test=rng.integers(0, 255, size=(4, 4, 4, 3), dtype=np.uint8),
        y_test=np.array([0, 1, 1, 0]),
    )
    splits = load(path)
    assert splits.input_shape == (4, 4, 3)
    assert splits.train.element_spec[0].shape == (4, 4, 3)


def test_npz_missing_array_is_named(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(3))
    del arrays["y_test"]
    with pytest.raises(ValueError, match=r"lacks the array\(s\) \['y_test'\]"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_half_of_the_validation_pair_is_named(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(3), with_val=True)
    del arrays["y_val"]
    with pytest.raises(ValueError, match=r"\['y_val'\]"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_mismatched_lengths_are_rejected(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(4))
    arrays["y_train"] = arrays["y_train"][:-1]
    with pytest.raises(ValueError, match="x_train has 30 examples but y_train has 29"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_label_outside_the_classes_is_rejected(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(5))
    arrays["y_train"][:] = np.arange(30) % 3
    arrays["y_test"][4] = 3
    with pytest.raises(ValueError, match=r"y_test holds label 3, outside \[0, 3\)"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_negative_label_is_rejected(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(5))
    arrays["y_train"][7] = -1
    with pytest.raises(ValueError, match="y_train holds label -1"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_non_integer_labels_are_rejected(tmp_path):
    arrays = _npz_arrays(np.random.default_rng(6))
    arrays["y_train"] = arrays["y_train"] + 0.5
    with pytest.raises(ValueError, match="y_train must be a 1-D array of integer"):
        load(_write_npz(tmp_path / "d.npz", **arrays))


def test_npz_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(f"npz:{tmp_path / 'absent.npz'}")


def test_npz_without_a_path_is_rejected():
    with pytest.raises(ValueError, match="names no file"):
        load("npz:")


def test_in_memory_splits_decode_each_example_once_over_several_epochs(monkeypatch):
    from tf_robust_distill.data import datasets
    from tf_robust_distill.data.source import Source

    decoded = []

    def counting_decode(x, label):
        tf.py_function(lambda: decoded.append(1) or 0, [], tf.int32)
        return tf.cast(x, tf.float32), label

    arrays = {"train": (np.arange(20.0).reshape(20, 1), np.arange(20) % 2)}
    arrays["test"] = arrays["train"]
    source = Source.from_arrays(
        arrays, num_classes=2, class_names=("a", "b"), decode=counting_decode
    )
    monkeypatch.setitem(datasets._SOURCES, "counting", lambda data_dir: source)
    splits = load("counting", imbalance_ratio=2.0)
    first = _arrays(splits.train)
    second = _arrays(splits.train)
    np.testing.assert_array_equal(first[0], second[0])
    assert len(decoded) == len(splits.train_labels) < 20
