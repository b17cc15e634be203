"""Batched input pipelines with a dict of per-example targets, for training and evaluation."""

import numbers
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tf_robust_distill.data.augment import get_augmentation
from tf_robust_distill.data.selection import num_examples

RESERVED_KEYS = ("label", "index")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}.")


def _check_dataset(dataset) -> int:
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"dataset must be a tf.data.Dataset; got {type(dataset).__name__}.")
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"dataset elements must be (x, label) pairs; got {spec}.")
    return num_examples(dataset)


def _lookup_tables(per_example: Mapping | None, size: int) -> dict[str, tf.Tensor]:
    """Per-example arrays as tensors (floating ones as float32), checked to have ``size`` rows."""
    tables = {}
    for key, values in (per_example or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(
                f"per_example key {key!r} is reserved; the pipeline sets {RESERVED_KEYS}."
            )
        array = np.asarray(values)
        if array.ndim == 0 or len(array) != size:
            raise ValueError(
                f"per_example[{key!r}] has {array.shape[0] if array.ndim else 'no'} rows but the "
                f"dataset has {size} examples."
            )
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
        tables[key] = tf.constant(array)
    return tables


def _batch_with_targets(indexed, batch_size, drop_remainder, tables) -> tf.data.Dataset:
    """Batches ``(index, (x, label))`` into ``(x, targets)``, gathering the tables by index."""

    def to_targets(index, example):
        x, label = example
        targets = {"label": tf.cast(label, tf.int32), "index": index}
        targets.update({key: tf.gather(table, index) for key, table in tables.items()})
        return x, targets

    batched = indexed.batch(batch_size, drop_remainder=drop_remainder)
    return batched.map(to_targets, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def training_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    seed: int,
    per_example: Mapping[str, np.ndarray] | None = None,
    augmentation: str | None = None,
    shuffle_buffer: int = 10_000,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Shuffled, optionally augmented batches of ``(x, targets)`` for training.

    ``targets`` is a dict: 'label' (int32), 'index' (int64, the example's position in
    ``dataset``) and, for each ``per_example`` array (e.g. 'teacher_probs' [N, C], 'weight' [N],
    'alpha' [N], 'topk' [N, C]), its rows gathered by 'index', so they stay aligned with the
    examples however they are shuffled. The order is reshuffled and the augmentation redrawn
    every epoch (every new iterator); both are determined by ``seed``.

    Args:
      dataset: finite unbatched dataset of ``(x, label)`` with known cardinality N.
      batch_size: global batch size.
      seed: seed of the shuffle and of the augmentations' per-example stateless seeds.
      per_example: key -> array with N rows; floating arrays are cast to float32.
      augmentation: None or a name in ``augment.AUGMENTATIONS`` ('crop_flip', 'translate',
        'flip_translate'), applied to each image x [H, W, C] (static shape).
      shuffle_buffer: size of the shuffle buffer (N or more shuffles uniformly).
      drop_remainder: drop the last partial batch (static batch shapes, e.g. for TPUs).

    Raises:
      ValueError: for an unknown augmentation, a per_example array without N rows (naming its
        key), a reserved key, a batch or buffer size below 1, or a dataset that is not a finite
        dataset of (x, label) pairs.
      TypeError: if ``dataset`` is not a tf.data.Dataset or a size is not an int.
    """
    size = _check_dataset(dataset)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    augment = None if augmentation is None else get_augmentation(augmentation)
    if augment is not None and not (
        dataset.element_spec[0].shape.rank == 3 and dataset.element_spec[0].shape.is_fully_defined()
    ):
        raise ValueError(
            f"augmentation {augmentation!r} needs [H, W, C] images of static shape; the dataset's "
            f"x has shape {dataset.element_spec[0].shape}."
        )
    tables = _lookup_tables(per_example, size)
    indexed = dataset.enumerate().shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def augment_example(indexed_example, example_seed):
            index, (x, label) = indexed_example
            return index, (augment(x, example_seed), label)

        indexed = tf.data.Dataset.zip(indexed, seeds).map(
            augment_example, num_parallel_calls=tf.data.AUTOTUNE
        )
    return _batch_with_targets(indexed, batch_size, drop_remainder, tables)


def evaluation_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    per_example: Mapping[str, np.ndarray] | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(x, targets)`` in dataset order, without shuffling or augmentation.

    ``targets`` as in ``training_pipeline``: 'label', 'index' and the ``per_example`` arrays.
    """
    size = _check_dataset(dataset)
    _check_positive_int("batch_size", batch_size)
    tables = _lookup_tables(per_example, size)
    return _batch_with_targets(dataset.enumerate(), batch_size, drop_remainder, tables)
