"""Teacher labels: one bulk inference of a trained teacher, cached on disk.

The unlabeled-distillation papers (weighted distillation §2, SLaM §2) assume the
teacher labels every example once; the student never runs the teacher in its
training loop. ``TeacherLabels`` holds the teacher's logits [N, C] with the
fingerprint of the teacher's weights; temperature (softmax(f/T)) and hard labels
(one-hot argmax) are applied when the labels are read, so one cache serves every
temperature of a sweep.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, files
from tf_robust_distill.data.teacher_cache import check_cache, model_fingerprint, read_cache
from tf_robust_distill.softmax import softmax


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
        logits = checks.as_logits(self.logits, name="teacher logits")
        object.__setattr__(self, "logits", logits.astype(np.float32, copy=False))

    @property
    def num_examples(self):
        return self.logits.shape[0]

    @property
    def num_classes(self):
        return self.logits.shape[1]

    def probs(self, temperature=1.0):
        """Teacher probabilities softmax(f/T) [N, C] (robust paper §6: T in {1, 3, 5})."""
        return softmax(self.logits, temperature).astype(np.float32)

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
        files.write_npz(path, logits=self.logits, fingerprint=np.array(self.fingerprint))

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
