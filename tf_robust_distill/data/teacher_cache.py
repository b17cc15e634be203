"""The on-disk caches of a teacher's bulk predictions (labels, features): one pass of the
teacher over a dataset, cached with what determines it, and the checks of a cache read back.

A cache is keyed by the teacher's weights (`model_fingerprint`) and by the data it was
computed on (`fingerprint.DataFingerprint`: the examples' content and order), so a cache of
another teacher, of another dataset of equal size, or of the same dataset in another order
is refused, never returned misaligned. The bulk inference fingerprints the data as the
batches pass through it; reusing a cache costs one extra pass over the data to fingerprint it.
"""

import hashlib
import math
import os
import zipfile

import numpy as np
import tensorflow as tf

from tf_robust_distill import inference
from tf_robust_distill.data.fingerprint import DataFingerprint, dataset_fingerprint
from tf_robust_distill.progress import Progress


def model_fingerprint(model):
    """SHA-256 over a model's weights in order (values, shapes, dtypes; not layer names), as hex."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        digest.update(f"{value.shape}:{value.dtype};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def bulk_inference(step, dataset, batch_size, progress=None):
    """``step(x)`` on every batch of the unbatched (x, ...) `dataset`, in one pass.

    `step` is traced once (`inference.predict`).

    Args:
      progress: (what, number of examples): log the progress of a long pass
        (`progress.Progress`: batches done of the total, ETA) under the name `what`.

    Returns:
      (the outputs concatenated as one numpy array, the dataset's `DataFingerprint` hex).
    """
    fingerprint = DataFingerprint()
    counter = None
    if progress is not None:
        what, size = progress
        counter = Progress(what, math.ceil(size / batch_size), "batches")

    def on_batch(batch):
        fingerprint.update(batch)
        if counter is not None:
            counter.update()

    batches = dataset.batch(batch_size)
    values = inference.predict(inference.traced_once(step, batches), batches, on_batch)
    return values, fingerprint.hexdigest()


def _input_rank(model):
    """The rank of the model's single input, batch axis included; None if unknown."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    is_shape = isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape)
    return len(shape) if is_shape else None


def example_dataset(data, model):
    """`data` as the unbatched dataset of examples a bulk inference of `model` reads.

    Args:
      data: a tf.data.Dataset of (x, ...) elements or of x, unbatched, or batched (its x
        has the rank of `model`'s input, batch axis included; it is unbatched: batches of
        any size give the same outputs and the same data fingerprint); or a numpy array x;
        or a tuple of arrays (x, y, ...) with one row per example.
    """
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        x_spec = spec[0] if isinstance(spec, tuple) else spec
        rank = _input_rank(model)
        batched = isinstance(x_spec, tf.TensorSpec) and x_spec.shape.rank == rank
        return data.unbatch() if batched else data
    arrays = tuple(np.asarray(a) for a in data) if isinstance(data, tuple) else np.asarray(data)
    return tf.data.Dataset.from_tensor_slices(arrays)


def cached_bulk_inference(
    model, dataset, *, step, num_examples, cache_path, batch_size, load, build
):
    """The teacher's outputs on `dataset`: read from `cache_path` if it exists, else computed.

    Args:
      model: the teacher (its weights key the cache).
      dataset: the examples in a fixed order (their content and order key the cache): a
        tf.data.Dataset of (x, ...), unbatched or batched, or numpy arrays
        (`example_dataset`).
      step: x -> the float32 outputs of a batch.
      num_examples: the dataset's size, checked against the cache and the inference; None:
        not checked (the data fingerprint counts the examples).
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
    dataset = example_dataset(dataset, model)
    if cache_path is not None and os.path.exists(cache_path):
        return load(
            cache_path,
            fingerprint=fingerprint,
            num_examples=num_examples,
            data_fingerprint=dataset_fingerprint(dataset),
        )
    progress = (f"inference of {model.name} on {num_examples} examples", num_examples)
    values, data_fingerprint = bulk_inference(
        step, dataset, batch_size, None if num_examples is None else progress
    )
    if num_examples is not None and values.shape[0] != num_examples:
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
