"""Argument checks for the metrics: each raises a ValueError saying what is allowed."""

import numbers

import numpy as np

# Row sums of a probability matrix may be off by this much (float32 softmax, rounding).
_ROW_SUM_TOLERANCE = 1e-3


def check_num_classes(num_classes):
    """Returns ``num_classes`` if it is an integer >= 2."""
    if not _is_integer(num_classes) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    return int(num_classes)


def check_k(k, num_classes):
    """Returns ``k`` if it is an integer in [1, num_classes]."""
    if not _is_integer(k) or not 1 <= k <= num_classes:
        raise ValueError(
            f"k must be an integer in [1, num_classes] = [1, {num_classes}], got {k!r}."
        )
    return int(k)


def check_num_bins(num_bins):
    """Returns ``num_bins`` if it is an integer >= 1."""
    if not _is_integer(num_bins) or num_bins < 1:
        raise ValueError(f"num_bins must be an integer >= 1, got {num_bins!r}.")
    return int(num_bins)


def as_labels(labels, num_classes, name="labels"):
    """Non-empty 1-D integer class ids in [0, num_classes) (or >= 0 if None), as numpy."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError(f"{name} must hold at least one example, got none.")
    if labels.ndim != 1 or not _has_integer_dtype(labels):
        raise ValueError(
            f"{name} must be a 1-D array of integer class ids, got dtype {labels.dtype} "
            f"and shape {labels.shape}."
        )
    _check_range(labels, num_classes, name)
    return labels


def as_class_ids(predictions, num_classes, name="predictions"):
    """Class ids from ids of shape [N] in [0, num_classes) (>= 0 if None) or scores [N, C].

    Scores are reduced by argmax over the last axis; C must equal ``num_classes``
    unless ``num_classes`` is None.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        if num_classes is not None and predictions.shape[1] != num_classes:
            raise ValueError(
                f"{name} scores must have num_classes = {num_classes} columns, "
                f"got shape {predictions.shape}."
            )
        return np.argmax(predictions, axis=1)
    if predictions.ndim == 1 and _has_integer_dtype(predictions):
        _check_range(predictions, num_classes, name)
        return predictions
    raise ValueError(
        f"{name} must be integer class ids of shape [N] or scores of shape [N, C], "
        f"got dtype {predictions.dtype} and shape {predictions.shape}."
    )


def as_probabilities(probs, name="probs"):
    """Float array of shape [N, C] whose rows are probability distributions."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"{name} must have shape [N, C], got shape {probs.shape}.")
    if not np.all((probs >= 0) & (probs <= 1)) or not np.allclose(
        probs.sum(axis=1), 1.0, rtol=0, atol=_ROW_SUM_TOLERANCE
    ):
        raise ValueError(
            f"{name} rows must be probability distributions (entries in [0, 1] summing "
            f"to 1 within {_ROW_SUM_TOLERANCE}); pass softmax(logits), not logits."
        )
    return probs


def check_same_length(**arrays):
    """Raises unless all the named arrays have the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have the same number of examples, got lengths {lengths}.")


def _check_range(class_ids, num_classes, name):
    upper = np.inf if num_classes is None else num_classes
    if class_ids.size and (class_ids.min() < 0 or class_ids.max() >= upper):
        allowed = (
            "non-negative" if num_classes is None else f"in [0, num_classes) = [0, {num_classes})"
        )
        raise ValueError(
            f"{name} must be {allowed}, got values in [{class_ids.min()}, {class_ids.max()}]."
        )


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _has_integer_dtype(array):
    return np.issubdtype(array.dtype, np.integer)
