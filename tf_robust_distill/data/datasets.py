"""The dataset registry and ``load``: a named dataset split as the papers split it."""

import functools

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.data.digits import digits_source
from tf_robust_distill.data.fashion_mnist import fashion_mnist_source
from tf_robust_distill.data.halves import validation_test_halves
from tf_robust_distill.data.long_tail import check_imbalance_ratio, long_tail_positions
from tf_robust_distill.data.npz import npz_source
from tf_robust_distill.data.selection import num_examples, select_positions
from tf_robust_distill.data.source import Source
from tf_robust_distill.data.splits import Splits
from tf_robust_distill.data.synthetic import synthetic100_source, synthetic_source
from tf_robust_distill.data.tfds_sources import tfds_source

NPZ_PREFIX = "npz:"
_SOURCES = {
    "digits": lambda data_dir: digits_source(),
    "fashion_mnist": fashion_mnist_source,
    "cifar10": functools.partial(tfds_source, "cifar10"),
    "cifar100": functools.partial(tfds_source, "cifar100"),
    "svhn_cropped": functools.partial(tfds_source, "svhn_cropped"),
    "celeb_a": functools.partial(tfds_source, "celeb_a"),
    "imagenet2012": functools.partial(tfds_source, "imagenet2012"),
    "synthetic": lambda data_dir: synthetic_source(),
    "synthetic100": lambda data_dir: synthetic100_source(),
}
DATASET_NAMES = (*_SOURCES, NPZ_PREFIX + "PATH")


def _check_name(name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"the dataset name must be a str; got {name!r}.")
    if name.startswith(NPZ_PREFIX):
        if not name[len(NPZ_PREFIX) :]:
            raise ValueError(f"{name!r} names no file; write '{NPZ_PREFIX}PATH' for an .npz file.")
    elif name not in _SOURCES:
        raise ValueError(f"unknown dataset {name!r}; allowed names: {', '.join(DATASET_NAMES)}.")


def _source(name: str, data_dir: str | None) -> Source:
    if name.startswith(NPZ_PREFIX):
        return npz_source(name[len(NPZ_PREFIX) :])
    return _SOURCES[name](data_dir)


def load(
    name: str, *, seed: int = 0, imbalance_ratio=None, data_dir=None, full_test_set=False
) -> Splits:
    """Loads a dataset with the papers' training, validation and test sets.

    * train: the published training set, or with ``imbalance_ratio`` its long-tailed subsample
      (Cui et al. 2019 profile, ``long_tail_counts``; seeded choice within each class).
    * val / test: two seeded random halves of the published test set (robust distillation
      paper, App. E.1.2), the same with or without ``imbalance_ratio``. An npz file with
      ``x_val, y_val`` gives its own validation set and the whole test set instead.
      With ``full_test_set`` the test set is the whole published one (SoTeacher's protocol,
      which has no validation set) and val stays the seeded half, so it overlaps test.

    Args:
      name: one of ``DATASET_NAMES``: 'digits' (scikit-learn, no download), 'fashion_mnist',
        'cifar10', 'cifar100', 'svhn_cropped', 'celeb_a' (label: the 'Male' attribute),
        'imagenet2012' (TFDS manual download), 'synthetic' (Gaussian mixture with exact
        eta(x)), 'synthetic100' (its 100-class version), or 'npz:PATH' (see ``read_npz_arrays``).
      seed: seed of the long-tail subsample and of the validation/test halves.
      imbalance_ratio: None for the published training set, else a number >= 1.
      data_dir: where TFDS keeps its data (and where Fashion-MNIST IDX files are looked for
        first); None for the defaults.
      full_test_set: test on the whole published test set instead of its seeded half.

    Returns:
      ``Splits``.

    Raises:
      ValueError: for an unknown name or an imbalance ratio below 1 (before anything is read),
        or for a long-tail profile that leaves a class empty.
    """
    _check_name(name)
    if not checks.is_integer(seed):
        raise TypeError(f"seed must be an int; got {seed!r}.")
    if imbalance_ratio is not None:
        check_imbalance_ratio(imbalance_ratio)
    source = _source(name, data_dir)
    train_positions = None
    if imbalance_ratio is not None:
        train_positions = long_tail_positions(
            source.labels("train"), source.num_classes, imbalance_ratio, seed
        )
    if "val" in source.split_names:
        selection = {
            "train": ("train", train_positions),
            "val": ("val", None),
            "test": ("test", None),
        }
    else:
        val_positions, test_positions = validation_test_halves(
            num_examples(source.records("test")), seed
        )
        selection = {
            "train": ("train", train_positions),
            "val": ("test", val_positions),
            "test": ("test", None if full_test_set else test_positions),
        }

    def dataset(split: str) -> tf.data.Dataset:
        source_split, positions = selection[split]
        records = source.records(source_split)
        if positions is not None:
            records = select_positions(records, positions)
        decoded = records.map(source.decode, num_parallel_calls=tf.data.AUTOTUNE)
        return decoded.cache() if source.in_memory else decoded

    def read_labels(split: str) -> np.ndarray:
        source_split, positions = selection[split]
        labels = source.labels(source_split)
        return labels if positions is None else labels[positions]

    class_probabilities = None
    if source.class_probabilities is not None:
        train_labels = read_labels("train")
        prior = np.bincount(train_labels, minlength=source.num_classes) / train_labels.size
        class_probabilities = functools.partial(source.class_probabilities, prior=prior)
    return Splits(
        name=name,
        train=dataset("train"),
        val=dataset("val"),
        test=dataset("test"),
        num_classes=source.num_classes,
        input_shape=source.input_shape,
        class_names=source.class_names,
        read_labels=read_labels,
        class_probabilities=class_probabilities,
    )
