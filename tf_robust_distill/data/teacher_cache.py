"""The on-disk caches of a teacher's bulk predictions (labels, features): the teacher's
weights fingerprint that ties a cache to its teacher, and the checks of a cache read back.
"""

import hashlib
import zipfile

import numpy as np


def model_fingerprint(model):
    """SHA-256 over a model's weights in order (values, shapes, dtypes; not layer names), as hex."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        digest.update(f"{value.shape}:{value.dtype};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


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


def check_cache(where, cached, fingerprint=None, num_examples=None):
    """Refuse a cache (anything with .fingerprint and .num_examples) written by another
    teacher or for a dataset of another size."""
    if fingerprint is not None and cached.fingerprint != fingerprint:
        raise ValueError(
            f"{where} was written by a different teacher (weights fingerprint "
            f"{cached.fingerprint[:12]}, this teacher {fingerprint[:12]}); delete it to recompute."
        )
    if num_examples is not None and cached.num_examples != num_examples:
        raise ValueError(
            f"{where} holds {cached.num_examples} examples, the dataset has {num_examples}"
        )
