"""Top-k teacher probabilities: per example, k probabilities at k classes and a uniform tail.

The compact form of a teacher's soft labels: a dense [N, C] array costs N·C·4 bytes
(5.1 GB for ImageNet's 1.28M × 1,000), k entries per example cost N·k·(4 + id bytes) and
one tail value. `TopKRows` holds them; the input pipeline builds the dense [batch, C] rows
of each batch from them (`dense_rows`), so the [N, C] array never exists.

The tail rule (`top_k_probabilities`). A top-k teacher label keeps the k largest logits
z_(1) ≥ ... ≥ z_(k) of an example, their classes, and s = log Σ_{j ∉ top-k} exp(z_j), the log
of the tail's unnormalized mass at T = 1. Each of the C − k tail classes gets the same logit
z̄ = s − log(C − k) (the log of the mean of exp(z_j) over the tail), and the probabilities at
temperature T are Hinton et al.'s softmax (eq. 1) over (z_(1), ..., z_(k), z̄, ..., z̄) / T:

    p_(i) = exp(z_(i)/T) / Z,   p_tail = exp(z̄/T) / Z per tail class,
    Z = Σ_i exp(z_(i)/T) + (C − k) exp(z̄/T).

At T = 1 the k probabilities and the tail's total mass are exact; the tail is spread
uniformly over its classes instead of as the teacher spreads it. At T ≠ 1 the tail's
tempered mass S_T = Σ_{j ∉ top-k} exp(z_j/T) is unknown; the rule takes
(C − k)^{1 − 1/T} e^{s/T}. As x ↦ x^{1/T} is concave for T > 1 and vanishes at 0,

    e^{s/T} ≤ S_T ≤ (C − k)^{1 − 1/T} e^{s/T}     for T ≥ 1 (both reversed for T ≤ 1)

(subadditivity on the left, Jensen's inequality on the right). So for T > 1 the top-k
probabilities returned are lower bounds of the exact softmax(z/T) entries, the tail mass an
upper bound, and each exact p_(i) lies between the returned value and
exp(z_(i)/T) / (Σ_i exp(z_(i)/T) + e^{s/T}) (the whole tail on one class); for T < 1 the
inequalities turn around. With k = C there is no tail and the rows are exact at every T.
"""

import dataclasses

import numpy as np
import tensorflow as tf
from scipy import special

from tf_robust_distill import checks


def class_id_dtype(num_classes):
    """The smallest unsigned integer dtype holding the class ids 0 .. C − 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if num_classes - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"num_classes={num_classes} does not fit 32-bit class ids.")


def top_k_probabilities(top_logits, tail_logsumexp, num_classes, temperature=1.0):
    """The tail rule of the module docstring: (top-k probabilities [N, k], tail [N]), float64.

    Args:
      top_logits: [N, k] the k largest logits of each example.
      tail_logsumexp: [N] log Σ exp of the other C − k logits (−inf, or anything, if k = C).
      num_classes: C.
      temperature: T > 0.

    Returns:
      (p [N, k], q [N]): p_(i) as above and q the probability of each of the C − k tail
      classes (0 if k = C); every row has p.sum() + (C − k) q = 1.
    """
    temperature = checks.check_temperature(temperature)
    top = np.asarray(top_logits, np.float64) / temperature
    others = num_classes - top.shape[1]
    if others == 0:
        return special.softmax(top, axis=1), np.zeros(top.shape[0])
    tail_logit = (np.asarray(tail_logsumexp, np.float64) - np.log(others)) / temperature
    log_norm = special.logsumexp(
        np.concatenate([top, (tail_logit + np.log(others))[:, None]], axis=1), axis=1
    )
    return np.exp(top - log_norm[:, None]), np.exp(tail_logit - log_norm)


def dense_rows(probs, classes, tail, num_classes):
    """[batch, C] float32 rows of a batch of `TopKRows` arrays, in TensorFlow.

    `tail` on every class, `probs` scattered at `classes`: O(batch · C) memory, built per
    batch by the input pipeline.
    """
    probs = tf.cast(probs, tf.float32)
    classes = tf.cast(classes, tf.int32)
    batch = tf.shape(probs)[0]
    rows = tf.broadcast_to(tf.cast(tail, tf.float32)[:, None], tf.stack([batch, num_classes]))
    row_ids = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(classes))
    return tf.tensor_scatter_nd_update(rows, tf.stack([row_ids, classes], axis=-1), probs)


@dataclasses.dataclass(frozen=True)
class TopKRows:
    """Probability rows [N, C] held as k entries per row and one value for the others.

    Row i is ``probs[i, j]`` at class ``classes[i, j]`` and ``tail[i]`` at each of the C − k
    other classes. What `TopKTeacherLabels.targets` gives a student; the input pipelines
    accept it wherever they accept a ``teacher_probs`` array, and build dense rows per batch.

    Attributes:
      probs: [N, k] float32, non-negative.
      classes: [N, k] integer class ids in [0, C), distinct within a row.
      tail: [N] float32, the probability of each class outside ``classes[i]``.
      num_classes: C.

    Raises:
      ValueError: shapes that disagree, class ids out of range or repeated in a row,
        negative or non-finite values, or a row that does not sum to 1.
    """

    probs: np.ndarray
    classes: np.ndarray
    tail: np.ndarray
    num_classes: int

    def __post_init__(self):
        probs = np.asarray(self.probs, np.float32)
        classes = np.asarray(self.classes)
        tail = np.asarray(self.tail, np.float32).reshape(-1)
        checks.check_num_classes(self.num_classes)
        k = probs.shape[1] if probs.ndim == 2 else 0
        if probs.ndim != 2 or classes.shape != probs.shape or tail.shape != probs.shape[:1]:
            raise ValueError(
                "top-k rows need probs and classes of one shape [N, k] and tail [N]; got "
                f"{probs.shape}, {classes.shape} and {tail.shape}."
            )
        if not 1 <= k <= self.num_classes:
            raise ValueError(f"top-k rows need 1 <= k <= C = {self.num_classes}, got k = {k}.")
        check_class_ids(classes, self.num_classes, "top-k rows")
        if not (np.all(np.isfinite(probs)) and np.all(np.isfinite(tail))):
            raise ValueError("top-k rows hold non-finite probabilities.")
        if probs.min(initial=0.0) < 0 or tail.min(initial=0.0) < 0:
            raise ValueError("top-k rows hold negative probabilities.")
        sums = probs.sum(axis=1, dtype=np.float64) + (self.num_classes - k) * tail
        bad = np.flatnonzero(~(np.abs(sums - 1.0) <= checks.PROBABILITY_SUM_TOLERANCE))
        if bad.size:
            raise ValueError(f"top-k row {bad[0]} sums to {sums[bad[0]]}, not 1.")
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "classes", classes.astype(class_id_dtype(self.num_classes)))
        object.__setattr__(self, "tail", tail)

    def __len__(self):
        return self.probs.shape[0]

    @property
    def top_k(self):
        return self.probs.shape[1]

    @property
    def shape(self):
        """(N, C): the shape of the dense rows."""
        return (len(self), self.num_classes)

    def dense(self):
        """The rows as a dense float32 array [N, C] (O(N·C) memory)."""
        rows = np.repeat(self.tail[:, None], self.num_classes, axis=1)
        np.put_along_axis(rows, self.classes.astype(np.intp), self.probs, axis=1)
        return rows

    def __array__(self, dtype=None, copy=None):
        """numpy reads the dense rows (`dense`): host-side readers of [N, C] probabilities
        (the estimators, ``np.asarray``) take top-k rows as they are."""
        rows = self.dense()
        return rows if dtype is None else rows.astype(dtype)

    def marginal(self):
        """The mean row [C] (float64), in O(N·k): tail mass everywhere, corrected at the
        top-k classes."""
        counts = self.classes.astype(np.intp).ravel()
        top = np.bincount(counts, weights=self.probs.ravel(), minlength=self.num_classes)
        tail_at_top = np.bincount(
            counts, weights=np.repeat(self.tail, self.top_k), minlength=self.num_classes
        )
        return (top + self.tail.sum(dtype=np.float64) - tail_at_top) / len(self)


def check_class_ids(classes, num_classes, where):
    """Raise unless `classes` [N, k] are integers in [0, C), distinct within each row."""
    if not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"{where}: class ids must be integers, got dtype {classes.dtype}.")
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(
            f"{where}: class ids must lie in [0, {num_classes}), got [{classes.min()}, "
            f"{classes.max()}]."
        )
    ordered = np.sort(classes, axis=1)
    repeated = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if repeated.size:
        raise ValueError(f"{where}: row {repeated[0]} names a class twice: {classes[repeated[0]]}.")
