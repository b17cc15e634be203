"""The fingerprint of a dataset's content and order: what a cache of per-example outputs,
or a stored model trained on the data, is keyed by.

SHA-256 over the bytes of every element, in the dataset's order, streamed batch by batch:
each component of the elements (the features, the label, ...) has its own running hash of
its values, and a component's batches concatenated are the same bytes whatever the batch
size, so the fingerprint does not depend on how the dataset was batched. The final hash
covers the components' dtypes, element shapes and hashes. Two datasets have the same
fingerprint only if they yield the same elements in the same order: another dataset of
equal size, the same dataset shuffled, or a file rewritten with its examples in another
order all give another fingerprint.
"""

import hashlib
import weakref

import numpy as np
import tensorflow as tf

from tf_robust_distill.data.in_memory import in_memory_elements

BATCH_SIZE = 1024
"""Elements hashed per batch by `dataset_fingerprint` (any size gives the same fingerprint)."""


class DataFingerprint:
    """A running fingerprint: `update` it with the dataset's batches in order, then read
    `hexdigest`."""

    def __init__(self):
        self._components = None
        self._count = 0

    def update(self, batch):
        """Add the next batch: a structure of arrays (or tensors) with the batch axis first."""
        leaves = [np.ascontiguousarray(np.asarray(leaf)) for leaf in tf.nest.flatten(batch)]
        described = [f"{leaf.dtype.str}{leaf.shape[1:]}" for leaf in leaves]
        if self._components is None:
            self._components = [(description, hashlib.sha256()) for description in described]
        expected = [description for description, _ in self._components]
        if described != expected:
            raise ValueError(f"a batch of components {described} follows batches of {expected}")
        for (_, digest), leaf in zip(self._components, leaves, strict=True):
            digest.update(leaf.tobytes())
        self._count += len(leaves[0]) if leaves else 0

    def hexdigest(self):
        """The fingerprint of the batches so far, as 64 hex digits."""
        total = hashlib.sha256(f"{self._count} elements;".encode())
        for description, digest in self._components or ():
            total.update(f"{description}:{digest.hexdigest()};".encode())
        return total.hexdigest()


_FINGERPRINTS = weakref.WeakKeyDictionary()
"""dataset object -> its fingerprint: a job keys its teacher, its caches and each fit's
checkpoints by the same splits, which are read once."""


def dataset_fingerprint(dataset):
    """The `DataFingerprint` of an unbatched, finite ``tf.data.Dataset``, in one pass over it.

    Computed once per dataset object in a process (a dataset yields the same elements at
    every pass; one built from files that change must be built again, as `data.load` does
    at every job start). A dataset that fits in memory is hashed as one batch
    (`in_memory.in_memory_elements`), others batch by batch: the same fingerprint.
    """
    if dataset not in _FINGERPRINTS:
        fingerprint = DataFingerprint()
        elements = in_memory_elements(dataset, int(dataset.cardinality()))
        if elements is not None:
            fingerprint.update(elements)
        else:
            batches = dataset.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
            for batch in batches.as_numpy_iterator():
                fingerprint.update(batch)
        _FINGERPRINTS[dataset] = fingerprint.hexdigest()
    return _FINGERPRINTS[dataset]
