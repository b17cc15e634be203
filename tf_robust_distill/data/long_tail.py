"""Long-tailed training sets: the exponential profile of Cui et al. (2019)."""

import numpy as np

from tf_robust_distill import checks


def check_imbalance_ratio(imbalance_ratio) -> None:
    """Raises ValueError unless ``imbalance_ratio`` is a real number of at least 1."""
    if not checks.is_real(imbalance_ratio):
        raise TypeError(f"imbalance_ratio must be a number; got {imbalance_ratio!r}.")
    if not imbalance_ratio >= 1:
        raise ValueError(f"imbalance_ratio must be at least 1; got {imbalance_ratio}.")


def long_tail_counts(counts_per_class, imbalance_ratio: float) -> np.ndarray:
    """Number of examples each class keeps in the long-tailed version of a dataset.

    Cui et al. (2019), "Class-Balanced Loss Based on Effective Number of Samples", Sec. 6;
    the protocol of the robust distillation paper (App. E.1.1): class ``i`` of ``C`` keeps

        n_i = floor(n_max * imbalance_ratio ** (-i / (C - 1)))

    examples, where ``n_max`` is the largest class count, and never more than it has.
    Class 0 keeps ``n_max`` and the last class ``n_max / imbalance_ratio``. CIFAR-10 (5000 per
    class) with ratio 100 keeps 12,406 images; Fashion-MNIST (6000 per class) keeps 14,886.

    Args:
      counts_per_class: 1-D array of the number of examples of each class (C >= 2).
      imbalance_ratio: ``max_i n_i / min_i n_i`` of the profile, at least 1.

    Returns:
      int64 array of shape [C] with the number of examples each class keeps.

    Raises:
      TypeError: if ``imbalance_ratio`` is not a number.
      ValueError: if ``imbalance_ratio < 1``, the counts are not a 1-D array of at least two
        non-negative integers, or a class would keep no example.
    """
    counts = np.asarray(counts_per_class)
    if counts.ndim != 1 or counts.size < 2 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(
            "counts_per_class must be a 1-D integer array with one count per class (at least 2 "
            f"classes); got shape {counts.shape} and dtype {counts.dtype}."
        )
    if np.any(counts < 0):
        raise ValueError(f"counts_per_class must be non-negative; got {counts.tolist()}.")
    check_imbalance_ratio(imbalance_ratio)
    num_classes = counts.size
    exponents = -np.arange(num_classes) / (num_classes - 1)
    profile = np.floor(counts.max() * float(imbalance_ratio) ** exponents).astype(np.int64)
    kept = np.minimum(profile, counts)
    empty = np.flatnonzero(kept == 0)
    if empty.size:
        cls = int(empty[0])
        raise ValueError(
            f"class {cls} would keep no example in the long-tailed set (it has {counts[cls]}, the "
            f"profile allows {profile[cls]} at imbalance_ratio={imbalance_ratio}); use a smaller "
            "imbalance_ratio or a dataset with more examples of that class."
        )
    return kept


def long_tail_positions(
    labels: np.ndarray, num_classes: int, imbalance_ratio: float, seed: int
) -> np.ndarray:
    """Positions of the examples kept in the long-tailed subsample of a labeled set.

    Within each class the kept examples are a seeded uniform random choice (without
    replacement) of ``long_tail_counts`` size.

    Args:
      labels: int array [N] of the labels in dataset order.
      num_classes: number of classes C; labels lie in [0, C).
      imbalance_ratio: see ``long_tail_counts``.
      seed: seed of the random choice.

    Returns:
      Sorted int64 array of the kept positions.
    """
    counts = np.bincount(labels, minlength=num_classes)
    kept = long_tail_counts(counts, imbalance_ratio)
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=kept[cls], replace=False)
        for cls in range(num_classes)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
