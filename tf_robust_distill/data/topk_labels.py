"""Top-k teacher labels: the k largest logits of each example, their classes and the tail's
log-mass, cached on disk with the same keys as the dense `TeacherLabels`.

`TeacherLabels.from_model(..., top_k=k)` makes them: the teacher's device computes
`top_k_summary` of every batch, so neither the host nor the cache ever holds [N, C]. The
cache file holds N·k float32 logits, N·k class ids of the smallest unsigned dtype for C
(1 byte up to 256 classes, 2 up to 65,536) and N float32 tail values: a fraction
(k·(4 + id bytes) + 4) / (4·C) of the dense file, e.g. 0.06 for top-5 of 1,000 classes.
Probabilities at a temperature follow the tail rule of `topk_rows` (exact on the top k and
on the tail's mass at T = 1, a stated bound at T ≠ 1).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, files
from tf_robust_distill.data.teacher_cache import check_cache, read_cache
from tf_robust_distill.data.topk_rows import (
    TopKRows,
    check_class_ids,
    class_id_dtype,
    top_k_probabilities,
)

CACHE_ARRAYS = (
    "top_logits",
    "top_classes",
    "tail_logsumexp",
    "num_classes",
    "fingerprint",
    "data_fingerprint",
)
"""The arrays of a top-k teacher-label cache file."""


def check_top_k(top_k, num_classes):
    """`top_k` if it is an integer in [1, C]; a ValueError otherwise."""
    if not checks.is_integer(top_k) or not 1 <= top_k <= num_classes:
        raise ValueError(
            f"top_k must be None (dense labels) or an integer in [1, {num_classes}] (the "
            f"teacher's classes), got {top_k!r}."
        )
    return int(top_k)


def top_k_summary(logits, top_k):
    """[B, 2k + 1] float32: each example's k largest logits, their classes, and log Σ exp of
    the other logits (−inf if k = C), packed in one array (`unpack_summary` splits it).

    TensorFlow, on a batch of float32 logits [B, C], on the teacher's device. Equal logits
    are ranked by class index (lower first, `tf.math.top_k`), as numpy's argmax ranks them.
    Class ids are exact in float32 below 2^24 classes.
    """
    top_logits, top_classes = tf.math.top_k(logits, k=top_k)
    in_top = tf.reduce_max(tf.one_hot(top_classes, tf.shape(logits)[-1]), axis=1) > 0
    tail = tf.reduce_logsumexp(tf.where(in_top, -np.inf, logits), axis=-1)
    return tf.concat([top_logits, tf.cast(top_classes, tf.float32), tail[:, None]], axis=-1)


def unpack_summary(summary):
    """(top_logits [N, k], top_classes int64 [N, k], tail_logsumexp [N]) of `top_k_summary`."""
    top_k = (summary.shape[1] - 1) // 2
    classes = summary[:, top_k : 2 * top_k].astype(np.int64)
    return summary[:, :top_k], classes, summary[:, 2 * top_k]


@dataclasses.dataclass(frozen=True)
class TopKTeacherLabels:
    """A teacher's k largest logits on a dataset, in the dataset's order.

    Attributes:
      top_logits: [N, k] float32, each row in descending order.
      top_classes: [N, k] their class ids (distinct within a row).
      tail_logsumexp: [N] float32 log Σ exp of the other C − k logits (−inf if k = C).
      num_classes: C.
      fingerprint: ``teacher_cache.model_fingerprint`` of the teacher.
      data_fingerprint: ``fingerprint.DataFingerprint`` of the data, "" when not known.
    """

    top_logits: np.ndarray
    top_classes: np.ndarray
    tail_logsumexp: np.ndarray
    num_classes: int
    fingerprint: str
    data_fingerprint: str = ""

    def __post_init__(self):
        top_logits = np.asarray(self.top_logits, np.float32)
        classes = np.asarray(self.top_classes)
        tail = np.asarray(self.tail_logsumexp, np.float32).reshape(-1)
        num_classes = checks.check_num_classes(self.num_classes)
        shape = top_logits.shape
        if top_logits.ndim != 2 or classes.shape != shape or tail.shape != shape[:1]:
            raise ValueError(
                "top-k teacher labels need top_logits and top_classes of one shape [N, k] and "
                f"tail_logsumexp [N]; got {top_logits.shape}, {classes.shape} and {tail.shape}."
            )
        top_k = check_top_k(top_logits.shape[1], num_classes)
        if not np.isfinite(top_logits).all():
            rows = int(np.sum(~np.isfinite(top_logits).all(axis=1)))
            raise ValueError(f"top-k teacher logits hold non-finite values in {rows} examples.")
        check_class_ids(classes, num_classes, "top-k teacher labels")
        if np.any(np.diff(top_logits, axis=1) > 0):
            raise ValueError("top-k teacher logits must be in descending order in every row.")
        finite = np.isfinite(tail) if top_k < num_classes else np.isneginf(tail)
        if not finite.all():
            raise ValueError(
                f"the tail log-mass must be {'finite' if top_k < num_classes else '-inf'} "
                f"with top_k={top_k} of {num_classes} classes; {int(np.sum(~finite))} values "
                "are not."
            )
        object.__setattr__(self, "top_logits", top_logits)
        object.__setattr__(self, "top_classes", classes.astype(class_id_dtype(num_classes)))
        object.__setattr__(self, "tail_logsumexp", tail)
        object.__setattr__(self, "num_classes", num_classes)

    @classmethod
    def from_logits(cls, logits, top_k, fingerprint="", data_fingerprint=""):
        """The top-k labels of dense logits [N, C] (e.g. ``TeacherLabels.logits``)."""
        logits = checks.as_logits(np.asarray(logits, np.float32), name="teacher logits")
        num_classes = logits.shape[1]
        summary = top_k_summary(tf.constant(logits), check_top_k(top_k, num_classes))
        return cls(*unpack_summary(summary.numpy()), num_classes, fingerprint, data_fingerprint)

    @property
    def num_examples(self):
        return self.top_logits.shape[0]

    @property
    def top_k(self):
        return self.top_logits.shape[1]

    def rows(self, temperature=1.0):
        """`TopKRows` of softmax at temperature T by the tail rule (`topk_rows`)."""
        probs, tail = top_k_probabilities(
            self.top_logits, self.tail_logsumexp, self.num_classes, temperature
        )
        return TopKRows(probs, self.top_classes, tail, self.num_classes)

    def probs(self, temperature=1.0):
        """Dense probabilities [N, C] float32 by the tail rule (O(N·C) memory: host-side
        readers such as post-shift and the unlabeled job's estimators)."""
        return self.rows(temperature).dense()

    def hard(self):
        """One-hot teacher labels (the top-1 class, the argmax of the logits), as `TopKRows`."""
        num_examples = self.num_examples
        return TopKRows(
            np.ones((num_examples, 1), np.float32),
            self.top_classes[:, :1],
            np.zeros(num_examples, np.float32),
            self.num_classes,
        )

    def targets(self, temperature=1.0, hard=False):
        """What a student reads as ``teacher_probs``, as `TopKRows` (the pipelines build
        the dense rows per batch): hard labels, or the tail rule at T."""
        return self.hard() if hard else self.rows(temperature)

    def marginal(self, temperature=1.0):
        """The mean of the rows at T [C] (float64), in O(N·k)."""
        return self.rows(temperature).marginal()

    def argmax(self):
        """The teacher's top-1 class of every example [N] (exact)."""
        return self.top_classes[:, 0].astype(np.int64)

    def select(self, positions):
        """The labels of the examples at `positions` (data fingerprint unknown)."""
        return TopKTeacherLabels(
            self.top_logits[positions],
            self.top_classes[positions],
            self.tail_logsumexp[positions],
            self.num_classes,
            self.fingerprint,
        )

    def save(self, path):
        """Write to a ``.npz`` file atomically."""
        files.write_npz(
            path,
            top_logits=self.top_logits,
            top_classes=self.top_classes,
            tail_logsumexp=self.tail_logsumexp,
            num_classes=np.array(self.num_classes),
            fingerprint=np.array(self.fingerprint),
            data_fingerprint=np.array(self.data_fingerprint),
        )

    @classmethod
    def load(
        cls,
        path,
        *,
        fingerprint=None,
        num_examples=None,
        num_classes=None,
        data_fingerprint=None,
        top_k=None,
    ):
        """Read a cache, checking it against what the caller expects.

        Raises:
          ValueError: the cache is no readable npz archive of `CACHE_ARRAYS` (e.g. a dense
            cache), or holds another teacher's labels, another number of examples, classes
            or k, labels of other data or of another order, or invalid values.
        """
        where = f"top-k teacher-label cache {path}"
        stored = read_cache(where, path, CACHE_ARRAYS)
        try:
            labels = cls(
                stored["top_logits"],
                stored["top_classes"],
                stored["tail_logsumexp"],
                int(stored["num_classes"]),
                str(stored["fingerprint"]),
                str(stored["data_fingerprint"]),
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        check_cache(where, labels, fingerprint, num_examples, data_fingerprint)
        if num_classes is not None and labels.num_classes != num_classes:
            raise ValueError(
                f"{where} holds {labels.num_classes} classes, the teacher has {num_classes}"
            )
        if top_k is not None and labels.top_k != top_k:
            raise ValueError(
                f"{where} holds the top-{labels.top_k} logits, top_k={top_k} was asked; "
                "delete it to recompute."
            )
        return labels
