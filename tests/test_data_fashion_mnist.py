"""Fashion-MNIST from IDX files: the reader on small files, and the real files when present."""

import gzip
import os
import struct

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tf_robust_distill.data import load
from tf_robust_distill.data.fashion_mnist import SYSTEM_DIR, find_idx_files
from tf_robust_distill.data.idx import read_idx

MEAN, STD = 0.2860406, 0.3530242


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """The IDX encoding: 0, 0, type, ndim, big-endian uint32 sizes, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, type_code=0x08, compress=False):
    data = idx_bytes(array, type_code)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)


@pytest.mark.parametrize(
    ("dtype", "type_code"), [(np.uint8, 0x08), (np.int32, 0x0C), (np.float64, 0x0E)]
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips(tmp_path, dtype, type_code, compress):
    array = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    write_idx(tmp_path / "a", array, type_code, compress)
    read = read_idx(tmp_path / "a")
    assert read.shape == (2, 3, 4) and read.dtype == dtype
    np.testing.assert_array_equal(read, array)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.arange(5, dtype=np.uint8), 0x08)[:-1])
    with pytest.raises(ValueError, match="needs 13"):
        read_idx(tmp_path / "short")


def _write_small_fashion_mnist(directory, rng):
    arrays = {}
    for split, prefix, size in (("train", "train", 20), ("test", "t10k", 10)):
        images = rng.integers(0, 256, size=(size, 28, 28), dtype=np.uint8)
        labels = (np.arange(size) % 10).astype(np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images, compress=True)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[split] = images, labels
    return arrays


def test_load_reads_idx_files_from_data_dir(tmp_path):
    arrays = _write_small_fashion_mnist(tmp_path, np.random.default_rng(0))
    splits = load("fashion_mnist", data_dir=str(tmp_path))
    x, y = next(iter(splits.train.batch(100)))
    images, labels = arrays["train"]
    np.testing.assert_allclose(x.numpy()[..., 0], (images / 255.0 - MEAN) / STD, atol=1e-5)
    np.testing.assert_array_equal(y.numpy(), labels)
    np.testing.assert_array_equal(splits.train_labels, labels)
    assert splits.input_shape == (28, 28, 1)
    assert len(splits.val_labels) == len(splits.test_labels) == 5
    assert splits.class_names == tuple(tfds.builder("fashion_mnist").info.features["label"].names)


def test_incomplete_directory_is_not_used(tmp_path):
    _write_small_fashion_mnist(tmp_path, np.random.default_rng(0))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    assert find_idx_files(str(tmp_path)) is None


@pytest.mark.skipif(
    find_idx_files(SYSTEM_DIR) is None,
    reason=f"Fashion-MNIST IDX files are not installed in {SYSTEM_DIR} "
    "(Debian package dataset-fashion-mnist)",
)
def test_real_fashion_mnist():
    splits = load("fashion_mnist")
    assert len(splits.train_labels) == 60_000
    assert len(splits.val_labels) == len(splits.test_labels) == 5_000
    np.testing.assert_array_equal(np.bincount(splits.train_labels), np.full(10, 6000))
    assert splits.num_classes == 10
    assert splits.class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    x = np.concatenate([x for x, _ in splits.train.batch(20_000).as_numpy_iterator()])
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1.0) < 1e-4  # the constants standardize
    assert int(load("fashion_mnist", imbalance_ratio=100).train.cardinality()) == 14_886
