"""Fashion-MNIST from IDX files on disk, falling back to TensorFlow Datasets."""

import os

import numpy as np
import tensorflow_datasets as tfds

from tf_robust_distill.data.idx import read_idx
from tf_robust_distill.data.normalization import CHANNEL_STATS, standardize
from tf_robust_distill.data.source import Source
from tf_robust_distill.data.tfds_sources import tfds_source

# Where Debian's package dataset-fashion-mnist installs the gzipped IDX files.
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_path(directory: str, stem: str) -> str | None:
    for filename in (stem, stem + ".gz"):
        path = os.path.join(directory, filename)
        if os.path.isfile(path):
            return path
    return None


def find_idx_files(directory: str) -> dict[str, tuple[str, str]] | None:
    """Split -> (images path, labels path) if ``directory`` holds all four IDX files."""
    found = {
        split: tuple(_idx_path(directory, stem) for stem in stems)
        for split, stems in IDX_FILES.items()
    }
    if any(path is None for paths in found.values() for path in paths):
        return None
    return found


def _read_split(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{images_path!r} (shape {images.shape}) and {labels_path!r} (shape {labels.shape}) "
            "must hold [N, H, W] images and [N] labels."
        )
    return images[..., np.newaxis], labels


def _standardize(image, label):
    mean, std = CHANNEL_STATS["fashion_mnist"]
    return standardize(image, mean, std), label


def fashion_mnist_source(data_dir: str | None = None) -> Source:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test 28x28 grayscale images.

    The IDX files (``train-images-idx3-ubyte`` etc., gzipped or not) are read from ``data_dir``
    if it holds them, else from ``SYSTEM_DIR``; if neither does, the dataset is loaded with
    TensorFlow Datasets into ``data_dir`` (same examples, in TFDS's stored order). Images are
    standardized with ``CHANNEL_STATS['fashion_mnist']``; class names are TFDS's.
    """
    directories = [d for d in (data_dir, SYSTEM_DIR) if d is not None]
    files = next((f for f in map(find_idx_files, directories) if f is not None), None)
    if files is None:
        return tfds_source("fashion_mnist", data_dir)
    return Source.from_arrays(
        {split: _read_split(*paths) for split, paths in files.items()},
        num_classes=10,
        class_names=tuple(tfds.builder("fashion_mnist").info.features["label"].names),
        decode=_standardize,
    )
