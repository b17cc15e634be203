"""Input checks shared by the estimators: each raises a ValueError that names the argument."""

import numbers

import numpy as np

PROBABILITY_SUM_TOLERANCE = 1e-3
"""Largest allowed |sum(row) - 1| of a probability row (float32 softmax outputs sum to 1 ± 1e-6)."""


def check_probabilities(probs, name):
    """Returns `probs` as an array after checking it is a non-empty [N, C] probability matrix.

    Rows must be non-negative and sum to 1 within `PROBABILITY_SUM_TOLERANCE`; C >= 2.
    NaN or infinite entries fail the sum check.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ValueError(
            f"{name} must be a [num_examples, num_classes] array with at least one example "
            f"and at least 2 classes, got shape {probs.shape}."
        )
    if not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(f"{name} must hold floating-point probabilities, got dtype {probs.dtype}.")
    sums = probs.sum(axis=1)
    bad_rows = ~(np.abs(sums - 1.0) <= PROBABILITY_SUM_TOLERANCE)
    if bad_rows.any():
        row = int(np.argmax(bad_rows))
        raise ValueError(
            f"Each row of {name} must sum to 1 (tolerance {PROBABILITY_SUM_TOLERANCE}); "
            f"row {row} sums to {sums[row]}."
        )
    if (probs < 0).any():
        raise ValueError(f"{name} must be non-negative; its smallest entry is {probs.min()}.")
    return probs


def check_labels(labels, num_examples, num_classes, name):
    """Returns `labels` as an int64 array after checking shape [num_examples] and range."""
    labels = np.asarray(labels)
    if labels.shape != (num_examples,):
        raise ValueError(
            f"{name} must have shape ({num_examples},) to match the probabilities, "
            f"got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"{name} must lie in [0, {num_classes - 1}] (num_classes={num_classes}); "
            f"got values in [{labels.min()}, {labels.max()}]."
        )
    return labels.astype(np.int64)


def check_same_shape(a, b, name_a, name_b):
    """Raises a ValueError unless arrays `a` and `b` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}."
        )


def check_num_classes(probs, num_classes, name):
    """Raises a ValueError unless `probs` has `num_classes` columns."""
    if probs.shape[1] != num_classes:
        raise ValueError(
            f"{name} has {probs.shape[1]} classes but {num_classes} were expected "
            "(the class count seen at fit time / in the validation probabilities)."
        )


def is_integer(value):
    """True for Python and numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
