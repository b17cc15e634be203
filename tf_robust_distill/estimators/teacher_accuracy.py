"""The teacher's accuracy statistics alpha(x) and k(x) of SLaM, and the top-k(x) mask.

Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee. SLaM: Student-Label Mixing for
Distillation with Unlabeled Examples. NeurIPS 2023. Definition 3.2, App. B.1, Algorithm 2.
"""

import numpy as np
from sklearn.exceptions import NotFittedError

from tf_robust_distill import checks
from tf_robust_distill.estimators.confidence import margin
from tf_robust_distill.estimators.isotonic import StepIsotonic


def descending_ranks(probs):
    """Rank of every class in each row of `probs` [N, C] -> int [N, C]; 0 is the largest.

    Equal probabilities are ranked by class index (lower index first), so rank 0 is argmax.
    """
    order = np.argsort(-probs, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(probs.shape[1])[None, :], axis=1)
    return ranks


def top_j_margins(probs):
    """Top-j margins for j = 1..C-1 of each row of `probs` [N, C] -> [N, C-1].

    margin_j(p) = (sum_{r=1..j} max_r p) - max_{j+1} p, with max_r p the r-th largest entry
    (SLaM App. A and B.1; the covariate of Algorithm 2). Column j-1 holds margin_j; column 0
    is the ordinary top-1 minus top-2 margin.
    """
    descending = -np.sort(-probs, axis=1)
    return np.cumsum(descending[:, :-1], axis=1) - descending[:, 1:]


def top_k_mask(probs, k):
    """top(p; k): 0/1 float32 mask [N, C] of the k largest entries of each row of `probs`.

    SLaM Sec. 3 and Eq. (1): the mixing uses top(y_s(x); k(x)) of the TEACHER's soft label y_s
    (Definition 3.2: a wrong teacher label is a uniformly random wrong class among the teacher's
    top-k(x) classes). `k` is an int or an int array [N] with values in [1, C]. Ties are broken
    by class index as in `descending_ranks`.
    """
    probs = checks.as_probabilities(probs, "probs")
    num_examples, num_classes = probs.shape
    k = np.asarray(k)
    if (
        k.shape not in ((), (num_examples,))
        or not np.issubdtype(k.dtype, np.integer)
        or k.min() < 1
        or k.max() > num_classes
    ):
        raise ValueError(
            f"k must be an integer or an integer array of shape ({num_examples},) with values in "
            f"[1, {num_classes}], got shape {k.shape}, dtype {k.dtype} and values {k}."
        )
    return (descending_ranks(probs) < k.reshape(-1, 1)).astype(np.float32)


class TeacherAccuracyEstimator:
    """Estimates SLaM's alpha(x) and k(x) from the teacher's probabilities on a validation set.

    alpha(x) (App. B.1): isotonic regression, increasing and bounded in [lower_bound, 1], of
    "the teacher's top-1 class is the true label" on the teacher's margin (top-1 minus top-2
    probability), read as a step function (`StepIsotonic`).

    k(x) (Algorithm 2): for j = 1..C-1 the same regression of "the true label is among the
    teacher's top-j classes" on the top-j margin (`top_j_margins`) gives alpha_j(x); alpha_C = 1.
    k(x) is the smallest j with alpha_j(x) >= threshold, so it lies in [1, C]. As in
    Algorithm 2, the lower bound applies to every alpha_j. With `fixed_k`, k(x) = fixed_k for
    every example (the paper's ImageNet setting, k = 5) and only alpha is fitted.
    Note that k(x) = 1 is possible (Algorithm 2 searches r in {1, ..., L}); the 1/(k-1)
    normalized mixing of SLaM Eq. (1) is undefined there, the unnormalized mixing of
    Remark B.1 is not.

    The paper's settings: lower_bound = 0.5 and threshold = 0.9 on CIFAR-10/100 (App. D.1).
    """

    def __init__(self, lower_bound=0.5, threshold=0.9, fixed_k=None):
        if not 0.0 <= lower_bound <= 1.0:
            raise ValueError(f"lower_bound must be in [0, 1], got {lower_bound!r}.")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}.")
        if fixed_k is not None and not (checks.is_integer(fixed_k) and fixed_k >= 1):
            raise ValueError(f"fixed_k must be None or an integer >= 1, got {fixed_k!r}.")
        self.lower_bound = lower_bound
        self.threshold = threshold
        self.fixed_k = fixed_k

    def fit(self, teacher_probs_val, labels_val):
        """Fits the isotonic regressions on validation probabilities [V, C] and labels [V]."""
        probs = checks.as_probabilities(teacher_probs_val, "teacher_probs_val")
        num_classes = probs.shape[1]
        labels = checks.as_labels(labels_val, num_classes, "labels_val", probs.shape[0])
        if self.fixed_k is not None and self.fixed_k > num_classes:
            raise ValueError(
                f"fixed_k={self.fixed_k} exceeds the number of classes ({num_classes})."
            )
        label_rank = np.take_along_axis(descending_ranks(probs), labels[:, None], axis=1)[:, 0]
        num_curves = 1 if self.fixed_k is not None else num_classes - 1
        margins = top_j_margins(probs)
        self.top_j_accuracy_ = tuple(
            StepIsotonic.fit(
                margins[:, j - 1], (label_rank < j).astype(np.float64), self.lower_bound
            )
            for j in range(1, num_curves + 1)
        )
        self.num_classes_ = num_classes
        return self

    def alpha(self, teacher_probs):
        """alpha(x) [N]: estimated P(teacher's top-1 class is right), in [lower_bound, 1]."""
        probs = self._checked(teacher_probs)
        return self.top_j_accuracy_[0](margin(probs))

    def k(self, teacher_probs):
        """k(x) [N] (int64 in [1, C]): smallest j whose estimated top-j accuracy >= threshold."""
        probs = self._checked(teacher_probs)
        if self.fixed_k is not None:
            return np.full(probs.shape[0], self.fixed_k, dtype=np.int64)
        margins = top_j_margins(probs)
        k = np.full(probs.shape[0], self.num_classes_, dtype=np.int64)
        for j in range(self.num_classes_ - 1, 0, -1):
            reached = self.top_j_accuracy_[j - 1](margins[:, j - 1]) >= self.threshold
            k[reached] = j
        return k

    def _checked(self, teacher_probs):
        if not hasattr(self, "top_j_accuracy_"):
            raise NotFittedError(
                "This TeacherAccuracyEstimator is not fitted yet; call fit(teacher_probs_val, "
                "labels_val) before alpha() or k()."
            )
        probs = checks.as_probabilities(teacher_probs, "teacher_probs")
        checks.check_num_columns(probs, self.num_classes_, "teacher_probs")
        return probs
