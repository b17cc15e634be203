"""Selecting examples of a tf.data pipeline by their position."""

import numpy as np
import tensorflow as tf

from tf_robust_distill.data.in_memory import from_elements, in_memory_elements


def num_examples(dataset: tf.data.Dataset) -> int:
    """The number of elements of a finite dataset whose cardinality tf.data knows."""
    cardinality = int(dataset.cardinality())
    if cardinality < 0:
        raise ValueError(
            "the dataset's number of elements is unknown or infinite; give a finite dataset "
            "with known cardinality (e.g. apply tf.data.experimental.assert_cardinality)."
        )
    return cardinality


def select_positions(dataset: tf.data.Dataset, positions: np.ndarray) -> tf.data.Dataset:
    """The elements of ``dataset`` at ``positions``, in dataset order.

    A dataset that fits in memory (`in_memory.in_memory_elements`) is read once, here, and
    the selection holds the gathered elements (`in_memory.from_elements`: the training
    pipeline and the fingerprint take them without reading it again); its passes skip
    tf.data's per-element cost, and a source whose elements change between passes
    (random maps) is read once. A larger one is streamed at every pass and filtered
    against a boolean mask, so nothing is loaded into memory and the selection works on
    datasets of any size (e.g. ImageNet).
    Both give the same elements in the same order.

    Args:
      dataset: a finite dataset with known cardinality N.
      positions: sorted, unique integer positions in [0, N).

    Returns:
      The selected elements, with cardinality ``len(positions)``.
    """
    size = num_examples(dataset)
    positions = np.asarray(positions)
    if positions.size and (positions.min() < 0 or positions.max() >= size):
        raise ValueError(
            f"positions must lie in [0, {size}); got [{positions.min()}, {positions.max()}]."
        )
    elements = in_memory_elements(dataset, size)
    if elements is not None:
        index = tf.constant(positions, tf.int64)
        return from_elements(tf.nest.map_structure(lambda t: tf.gather(t, index), elements))
    mask = np.zeros(size, dtype=bool)
    mask[positions] = True
    keep = tf.constant(mask)
    selected = dataset.enumerate().filter(lambda i, _: keep[i]).map(lambda _, element: element)
    return selected.apply(tf.data.experimental.assert_cardinality(int(mask.sum())))
