"""Teacher labels: one bulk inference of a trained teacher, cached on disk.

The unlabeled-distillation papers (weighted distillation §2, SLaM §2) assume the
teacher labels every example once; the student never runs the teacher in its
training loop. ``TeacherLabels`` holds the teacher's logits [N, C] with the
fingerprint of the teacher's weights; temperature (softmax(f/T)) and hard labels
(one-hot argmax) are applied when the labels are read, so one cache serves every
temperature of a sweep.
"""

import dataclasses
import hashlib
import os
import tempfile
import zipfile

import numpy as np
import tensorflow as tf
from scipy import special


def model_fingerprint(model):
    """SHA-256 over a model's weights in order (values, shapes, dtypes; not layer names), as hex."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.asarray(weight.numpy())
        digest.update(f"{value.shape}:{value.dtype};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def atomic_savez(path, **arrays):
    """np.savez to a temporary file in the same directory, then renamed into place,
    so a reader never sees a half-written cache."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)
    os.replace(handle.name, path)


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


def softmax(logits, temperature=1.0):
    """softmax(f / T) along the last axis (float32)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return special.softmax(np.asarray(logits, np.float64) / temperature, axis=-1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class TeacherLabels:
    """A teacher's logits on a dataset, in the dataset's order.

    Attributes:
      logits: [N, C] float32 teacher logits.
      fingerprint: ``model_fingerprint`` of the teacher that produced them.
    """

    logits: np.ndarray
    fingerprint: str

    def __post_init__(self):
        logits = np.asarray(self.logits)
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ValueError(f"teacher logits must be [N, C] with C >= 2, got shape {logits.shape}")
        if not np.all(np.isfinite(logits)):
            bad = int(np.sum(~np.isfinite(logits).all(axis=1)))
            raise ValueError(f"teacher logits hold non-finite values in {bad} examples")
        object.__setattr__(self, "logits", logits.astype(np.float32, copy=False))

    @property
    def num_examples(self):
        return self.logits.shape[0]

    @property
    def num_classes(self):
        return self.logits.shape[1]

    def probs(self, temperature=1.0):
        """Teacher probabilities softmax(f/T) [N, C] (robust paper §6: T in {1, 3, 5})."""
        return softmax(self.logits, temperature)

    def hard(self):
        """One-hot teacher labels [N, C] (argmax of the logits)."""
        return np.eye(self.num_classes, dtype=np.float32)[self.logits.argmax(axis=1)]

    def targets(self, temperature=1.0, hard=False):
        """What a student reads as ``teacher_probs``: hard labels or softmax(f/T)."""
        return self.hard() if hard else self.probs(temperature)

    @classmethod
    def from_model(cls, model, dataset, *, num_examples, cache_path=None, batch_size=256):
        """Label `dataset` with `model` once; reuse `cache_path` if it holds this teacher's labels.

        Args:
          model: the trained teacher (any Keras model returning logits).
          dataset: unbatched tf.data.Dataset of (x, ...) in a fixed order.
          num_examples: the dataset's size, checked against the cache and the inference.
          cache_path: a ``.npz`` file; read if present (and checked), else written.
          batch_size: inference batch size.
        """
        fingerprint = model_fingerprint(model)
        if cache_path is not None and os.path.exists(cache_path):
            return cls.load(
                cache_path,
                fingerprint=fingerprint,
                num_examples=num_examples,
                num_classes=model.output_shape[-1],
            )
        inputs = dataset.map(lambda x, *_: x).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        logits = np.asarray(model.predict(inputs, verbose=0), np.float32)
        if logits.shape[0] != num_examples:
            raise ValueError(
                f"the dataset yielded {logits.shape[0]} examples, "
                f"expected num_examples={num_examples}"
            )
        labels = cls(logits, fingerprint)
        if cache_path is not None:
            labels.save(cache_path)
        return labels

    def save(self, path):
        """Write to a ``.npz`` file atomically."""
        atomic_savez(path, logits=self.logits, fingerprint=np.array(self.fingerprint))

    @classmethod
    def load(cls, path, *, fingerprint=None, num_examples=None, num_classes=None):
        """Read a cache, checking it against what the caller expects.

        Raises:
          ValueError: the cache is no readable npz archive of logits and fingerprint,
            or holds another teacher's labels, another number of examples or classes,
            or non-finite values.
        """
        where = f"teacher-label cache {path}"
        stored = read_cache(where, path, ("logits", "fingerprint"))
        try:
            labels = cls(stored["logits"], str(stored["fingerprint"]))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        check_cache(where, labels, fingerprint, num_examples)
        if num_classes is not None and labels.num_classes != num_classes:
            raise ValueError(
                f"{where} holds {labels.num_classes} classes, the teacher has {num_classes}"
            )
        return labels
