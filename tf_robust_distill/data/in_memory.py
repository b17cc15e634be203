"""Reading a small dataset into memory in one pass.

tf.data pays a per-element cost on every pass; a small net on the CPU can spend more time
on it than on its train step. The training pipeline, the selection of examples by position
and the data fingerprint therefore read a dataset whose elements fit in ``IN_MEMORY_BYTES``
as one batch, and work on those tensors; larger datasets (e.g. ImageNet) are streamed.
A dataset made by `from_elements` (a selection held in memory) is not read again: its
tensors are returned as they are.
"""

import weakref

import tensorflow as tf

IN_MEMORY_BYTES = 1 << 30
"""The most bytes (all elements, all components) a dataset may take to be read into memory."""

_HELD = weakref.WeakKeyDictionary()
"""dataset made by `from_elements` -> the tensors it was made of."""


def from_elements(elements):
    """The dataset of `elements` (a structure of tensors, batch axis first), one element per
    row; `in_memory_elements` returns `elements` for it without a pass over it."""
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    _HELD[dataset] = elements
    return dataset


def in_memory_elements(dataset: tf.data.Dataset, size: int):
    """Every element of `dataset` as one structure of tensors, batch axis first, or None.

    Read in one pass if `dataset` has ``size`` > 0 elements whose components are numeric
    tensors of static shape taking at most ``IN_MEMORY_BYTES`` in all; else None (the
    caller streams the dataset). A dataset of `from_elements` gives its tensors, unread.
    """
    if dataset in _HELD:
        return _HELD[dataset]
    specs = tf.nest.flatten(dataset.element_spec)
    if not all(
        isinstance(spec, tf.TensorSpec)
        and spec.shape.is_fully_defined()
        and (spec.dtype.is_floating or spec.dtype.is_integer or spec.dtype.is_bool)
        for spec in specs
    ):
        return None
    element_bytes = sum(spec.shape.num_elements() * spec.dtype.size for spec in specs)
    if size <= 0 or size * element_bytes > IN_MEMORY_BYTES:
        return None
    return dataset.batch(size).get_single_element()
