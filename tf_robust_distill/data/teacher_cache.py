"""The on-disk caches of a teacher's bulk predictions (labels, features): one pass of the
teacher over a dataset, cached with what determines it, and the checks of a cache read back.

A cache is keyed by the teacher's weights (`model_fingerprint`) and by the data it was
computed on (`fingerprint.DataFingerprint`: the examples' content and order), so a cache of
another teacher, of another dataset of equal size, or of the same dataset in another order
is refused, never returned misaligned. The bulk inference fingerprints the data as the
batches pass through it; reusing a cache costs one extra pass over the data to fingerprint it.
"""

import hashlib
import os
import zipfile

import numpy as np
import tensorflow as tf

from tf_robust_distill.data.fingerprint import DataFingerprint, dataset_fingerprint


def model_fingerprint(model):
    """SHA-256 over a model's weights in order (values, shapes, dtypes; not layer names), as hex."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        digest.update(f"{value.shape}:{value.dtype};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def bulk_inference(step, dataset, batch_size):
    """``step(x)`` on every batch of the unbatched (x, ...) `dataset`, in one pass.

    Returns:
      (the outputs concatenated as one numpy array, the dataset's `DataFingerprint` hex).
    """
    fingerprint = DataFingerprint()
    step = tf.function(step, reduce_retracing=True)
    outputs = []
    for batch in dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE):
        fingerprint.update(batch)
        outputs.append(step(batch[0] if isinstance(batch, tuple) else batch).numpy())
    values = np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
    return values, fingerprint.hexdigest()


def cached_bulk_inference(
    model, dataset, *, step, num_examples, cache_path, batch_size, load, build
):
    """The teacher's outputs on `dataset`: read from `cache_path` if it exists, else computed.

    Args:
      model: the teacher (its weights key the cache).
      dataset: unbatched tf.data.Dataset of (x, ...) in a fixed order (its content and
        order key the cache).
      step: x -> the float32 outputs of a batch.
      num_examples: the dataset's size, checked against the cache and the inference.
      cache_path: a ``.npz`` file; read if present (and checked), else written; or None.
      batch_size: inference batch size.
      load: ``load(path, fingerprint=, num_examples=, data_fingerprint=)`` reads and checks
        a cache (e.g. ``TeacherLabels.load``).
      build: ``build(values, fingerprint, data_fingerprint)`` makes what is cached; it has
        a ``save(path)``.

    Raises:
      ValueError: the cache is unreadable or was computed by another teacher, on data of
        another size, content or order; or the dataset does not yield `num_examples`.
    """
    fingerprint = model_fingerprint(model)
    if cache_path is not None and os.path.exists(cache_path):
        return load(
            cache_path,
            fingerprint=fingerprint,
            num_examples=num_examples,
            data_fingerprint=dataset_fingerprint(dataset),
        )
    values, data_fingerprint = bulk_inference(step, dataset, batch_size)
    if values.shape[0] != num_examples:
        raise ValueError(
            f"the dataset yielded {values.shape[0]} examples, expected num_examples={num_examples}"
        )
    computed = build(values, fingerprint, data_fingerprint)
    if cache_path is not None:
        computed.save(cache_path)
    return computed


def read_cache(where, path, keys):
    """The arrays of the ``.npz`` cache at `path`, checked to hold `keys`.

    Raises:
      ValueError: naming `where`, if the file is no npz archive (e.g. truncated) or
        lacks one of `keys`.
    """
    try:
        with np.load(path) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{where} is not a readable .npz archive ({error}); delete it to recompute."
        ) from error
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise ValueError(
            f"{where} lacks the array(s) {missing} (it holds {sorted(arrays)}); "
            "delete it to recompute."
        )
    return arrays


def check_cache(where, cached, fingerprint=None, num_examples=None, data_fingerprint=None):
    """Refuse a cache (anything with .fingerprint, .num_examples and .data_fingerprint)
    written by another teacher, for a dataset of another size, or on other data or order."""
    if fingerprint is not None and cached.fingerprint != fingerprint:
        raise ValueError(
            f"{where} was written by a different teacher (weights fingerprint "
            f"{cached.fingerprint[:12]}, this teacher {fingerprint[:12]}); delete it to recompute."
        )
    if num_examples is not None and cached.num_examples != num_examples:
        raise ValueError(
            f"{where} holds {cached.num_examples} examples, the dataset has {num_examples}"
        )
    if data_fingerprint is not None and cached.data_fingerprint != data_fingerprint:
        raise ValueError(
            f"{where} was computed on other data, or on the same examples in another order "
            f"(data fingerprint {cached.data_fingerprint[:12] or 'none'}, this dataset "
            f"{data_fingerprint[:12]}); delete it to recompute."
        )
