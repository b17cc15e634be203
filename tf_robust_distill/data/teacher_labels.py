"""Teacher labels: one bulk inference of a trained teacher, cached on disk.

The unlabeled-distillation papers (weighted distillation §2, SLaM §2) assume the
teacher labels every example once; the student never runs the teacher in its
training loop. ``TeacherLabels`` holds the teacher's logits [N, C] with the
fingerprints of the teacher's weights and of the data (content and order) they were
computed on, which key the cache (`teacher_cache`); temperature (softmax(f/T)) and hard labels
(one-hot argmax) are applied when the labels are read, so one cache serves every
temperature of a sweep. With ``top_k`` it keeps only the k largest logits of each example
(`topk_labels.TopKTeacherLabels`: a cache about k/C of the dense one).
"""

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, files
from tf_robust_distill.data.teacher_cache import cached_bulk_inference, check_cache, read_cache
from tf_robust_distill.data.topk_labels import (
    TopKTeacherLabels,
    check_top_k,
    top_k_summary,
    unpack_summary,
)
from tf_robust_distill.probability_outputs import ends_in_softmax
from tf_robust_distill.softmax import softmax

CACHE_ARRAYS = ("logits", "fingerprint", "data_fingerprint")
"""The arrays of a teacher-label cache file."""


@dataclasses.dataclass(frozen=True)
class TeacherLabels:
    """A teacher's logits on a dataset, in the dataset's order.

    Attributes:
      logits: [N, C] float32 teacher logits.
      fingerprint: ``teacher_cache.model_fingerprint`` of the teacher that produced them.
      data_fingerprint: ``fingerprint.DataFingerprint`` of the dataset they label, in its
        order; "" when not known (e.g. labels of a selection of the examples).
    """

    logits: np.ndarray
    fingerprint: str
    data_fingerprint: str = ""

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

    def marginal(self, temperature=1.0):
        """The mean of softmax(f/T) over the examples [C] (float64)."""
        return checks.as_probabilities(self.probs(temperature)).mean(axis=0)

    def argmax(self):
        """The teacher's top-1 class of every example [N]."""
        return self.logits.argmax(axis=1)

    def select(self, positions):
        """The labels of the examples at `positions` (data fingerprint unknown)."""
        return TeacherLabels(self.logits[positions], self.fingerprint)

    @classmethod
    def from_model(
        cls, model, dataset, *, num_examples=None, cache_path=None, batch_size=256, top_k=None
    ):
        """Label `dataset` with `model` once; reuse `cache_path` if it holds this teacher's labels.

        A teacher that ends in a softmax (`probability_outputs.ends_in_softmax`: a
        ``Softmax`` layer or ``activation="softmax"``) returns probabilities p; its labels
        hold the logits log p (p floored at the smallest float32), so that ``probs()``
        gives back p rather than softmax(p).

        Args:
          model: the trained teacher (a Keras model returning logits, or ending in a softmax).
          dataset: the examples in a fixed order: a tf.data.Dataset of (x, ...) or of x,
            unbatched or batched (a batched one is detected from the rank of the model's
            input and unbatched: the labels and the cache key do not depend on its batch
            size); or a numpy array x; or a tuple of arrays (x, y).
          num_examples: the dataset's size, checked against the cache and the inference;
            None: not checked (the data fingerprint of the cache counts the examples).
          cache_path: a ``.npz`` file; read if present (and checked), else written.
          batch_size: inference batch size.
          top_k: None for the dense logits (`TeacherLabels`); an integer k in [1, C] for
            the k largest logits, their classes and the tail's log-mass, computed batch by
            batch on the teacher's device (`TopKTeacherLabels`, returned instead).

        Raises:
          ValueError: the cache was computed by another teacher, on data of another size,
            content or order, with another k, or is unreadable; the dataset does not yield
            `num_examples`; `top_k` is not in [1, C].
        """
        probabilities = ends_in_softmax(model)
        num_classes = model.output_shape[-1]

        def logits(x):
            outputs = tf.cast(model(x, training=False), tf.float32)
            return (
                tf.math.log(tf.maximum(outputs, np.finfo(np.float32).tiny))
                if probabilities
                else outputs
            )

        if top_k is None:
            step, build = logits, cls
            load = functools.partial(cls.load, num_classes=num_classes)
        else:
            top_k = check_top_k(top_k, num_classes)

            def step(x):
                return top_k_summary(logits(x), top_k)

            def build(values, fingerprint, data_fingerprint):
                return TopKTeacherLabels(
                    *unpack_summary(values), num_classes, fingerprint, data_fingerprint
                )

            load = functools.partial(TopKTeacherLabels.load, num_classes=num_classes, top_k=top_k)
        return cached_bulk_inference(
            model,
            dataset,
            step=step,
            num_examples=num_examples,
            cache_path=cache_path,
            batch_size=batch_size,
            load=load,
            build=build,
        )

    def save(self, path):
        """Write to a ``.npz`` file atomically."""
        files.write_npz(
            path,
            logits=self.logits,
            fingerprint=np.array(self.fingerprint),
            data_fingerprint=np.array(self.data_fingerprint),
        )

    @classmethod
    def load(
        cls, path, *, fingerprint=None, num_examples=None, num_classes=None, data_fingerprint=None
    ):
        """Read a cache, checking it against what the caller expects.

        Raises:
          ValueError: the cache is no readable npz archive of `CACHE_ARRAYS`, or holds
            another teacher's labels, another number of examples or classes, labels of
            other data or of another order, or non-finite values.
        """
        where = f"teacher-label cache {path}"
        stored = read_cache(where, path, CACHE_ARRAYS)
        try:
            labels = cls(
                stored["logits"], str(stored["fingerprint"]), str(stored["data_fingerprint"])
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        check_cache(where, labels, fingerprint, num_examples, data_fingerprint)
        if num_classes is not None and labels.num_classes != num_classes:
            raise ValueError(
                f"{where} holds {labels.num_classes} classes, the teacher has {num_classes}"
            )
        return labels
