"""Argument and input checks: each raises a ValueError that names the argument and says
what is allowed. The bottom floor: it imports nothing of the package."""

import math
import numbers
import warnings

import numpy as np

PROBABILITY_SUM_TOLERANCE = 1e-3
"""Largest allowed |sum(row) - 1| of a probability row (float32 softmax outputs sum to 1 ± 1e-6)."""


def is_integer(value):
    """True for Python and numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """True for Python and numpy real numbers (integers included), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


UINT8_SCALE_MIN = 1.5
"""Non-negative features whose largest value exceeds this (and is at most 255) look like
unscaled 8-bit pixels; scaled features lie in [0, 1]."""


class UnscaledFeaturesWarning(UserWarning):
    """Features look like 8-bit pixels (0-255) that were not scaled to [0, 1]."""


def check_temperature(temperature, name="temperature"):
    """Returns ``temperature`` as a float if it is a finite real number > 0.

    NaN fails ``> 0`` and infinity fails the finite test: softmax(f/T) is then NaN or
    uniform, never the temperature the caller meant.
    """
    if not is_real(temperature) or not (temperature > 0) or not math.isfinite(temperature):
        raise ValueError(f"{name} must be > 0 and finite, got {temperature!r}.")
    return float(temperature)


def check_features(x, name="x"):
    """Returns ``x`` as an array; refuses NaN or infinite values, warns on 0-255 pixels.

    A ReLU net maps NaN inputs to finite outputs on some kernels, so NaN features would
    be scored without an error. Non-negative features (uint8 or any other integer or
    float dtype) whose largest value lies in (1.5, 255] look like unscaled 8-bit pixels:
    an `UnscaledFeaturesWarning` names the fix (x / 255).
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.inexact):
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else np.isfinite(x)
        if not np.all(finite):
            raise ValueError(
                f"{name} holds NaN or infinite values in {int(np.sum(~finite))} examples; "
                "remove or impute them before training or scoring."
            )
    if x.size and _looks_like_unscaled_pixels(x):
        warnings.warn(
            f"{name} holds values in [{x.min()}, {x.max()}]: they look like 8-bit pixels "
            "that were not scaled; divide them by 255 (x / 255.0) so that they lie in [0, 1].",
            UnscaledFeaturesWarning,
            stacklevel=2,
        )
    return x


def _looks_like_unscaled_pixels(x):
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        return False
    return bool(x.min() >= 0 and UINT8_SCALE_MIN < x.max() <= 255)


def check_num_classes(num_classes):
    """Returns ``num_classes`` if it is an integer >= 2."""
    if not is_integer(num_classes) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    return int(num_classes)


def check_k(k, num_classes):
    """Returns ``k`` if it is an integer in [1, num_classes]."""
    if not is_integer(k) or not 1 <= k <= num_classes:
        raise ValueError(
            f"k must be an integer in [1, num_classes] = [1, {num_classes}], got {k!r}."
        )
    return int(k)


def check_num_bins(num_bins):
    """Returns ``num_bins`` if it is an integer >= 1."""
    if not is_integer(num_bins) or num_bins < 1:
        raise ValueError(f"num_bins must be an integer >= 1, got {num_bins!r}.")
    return int(num_bins)


def as_labels(labels, num_classes, name="labels", num_examples=None):
    """Non-empty 1-D integer class ids in [0, num_classes) (or >= 0 if None), as int64.

    With `num_examples`, the labels must also have shape [num_examples].
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError(f"{name} must hold at least one example, got none.")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 1-D array of integer class ids, got dtype {labels.dtype} "
            f"and shape {labels.shape}."
        )
    if num_examples is not None and labels.shape != (num_examples,):
        raise ValueError(
            f"{name} must have shape ({num_examples},) to match the probabilities, "
            f"got shape {labels.shape}."
        )
    _check_range(labels, num_classes, name)
    return labels.astype(np.int64, copy=False)


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
    if predictions.ndim == 1 and np.issubdtype(predictions.dtype, np.integer):
        _check_range(predictions, num_classes, name)
        return predictions
    raise ValueError(
        f"{name} must be integer class ids of shape [N] or scores of shape [N, C], "
        f"got dtype {predictions.dtype} and shape {predictions.shape}."
    )


def as_probabilities(probs, name="probs"):
    """`probs` as a float64 [N, C] array, N >= 1 and C >= 2, whose rows are probability
    distributions: non-negative and summing to 1 within `PROBABILITY_SUM_TOLERANCE`.

    NaN or infinite entries fail the sum check.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape [N, C] = [num_examples, num_classes] with at least one "
            f"example and at least 2 classes, got shape {probs.shape}."
        )
    if not np.issubdtype(probs.dtype, np.number) or np.iscomplexobj(probs):
        raise ValueError(f"{name} must hold real probabilities, got dtype {probs.dtype}.")
    probs = probs.astype(np.float64, copy=False)
    sums = probs.sum(axis=1)
    bad_rows = ~(np.abs(sums - 1.0) <= PROBABILITY_SUM_TOLERANCE)
    if bad_rows.any():
        row = int(np.argmax(bad_rows))
        raise ValueError(
            f"Each row of {name} must sum to 1 (tolerance {PROBABILITY_SUM_TOLERANCE}); "
            f"row {row} sums to {sums[row]}; pass softmax(logits), not logits."
        )
    if (probs < 0).any():
        raise ValueError(
            f"{name} must be non-negative, its smallest entry is {probs.min()}; "
            "pass softmax(logits), not logits."
        )
    return probs


def as_logits(logits, name="logits"):
    """`logits` as an [N, C] array, N >= 1 and C >= 2, of finite values."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[0] < 1 or logits.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape [N, C] = [num_examples, num_classes] with at least one "
            f"example and at least 2 classes, got shape {logits.shape}."
        )
    finite = np.isfinite(logits).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"{name} hold non-finite values in {int(np.sum(~finite))} examples; "
            "they must be finite (no NaN or infinity)."
        )
    return logits


def check_num_columns(probs, num_classes, name):
    """Raises unless the [N, C] array `probs` has C = `num_classes` columns."""
    if probs.shape[1] != num_classes:
        raise ValueError(
            f"{name} has {probs.shape[1]} classes but {num_classes} were expected "
            "(the class count seen at fit time / in the validation probabilities)."
        )


def check_same_length(**arrays):
    """Raises unless all the named arrays have the same first dimension."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs must have the same number of examples, got lengths {lengths}.")


def check_same_shape(a, b, name_a, name_b):
    """Raises unless arrays `a` and `b` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}."
        )


def _check_range(class_ids, num_classes, name):
    upper = np.inf if num_classes is None else num_classes
    if class_ids.size and (class_ids.min() < 0 or class_ids.max() >= upper):
        allowed = (
            "non-negative" if num_classes is None else f"in [0, num_classes) = [0, {num_classes})"
        )
        raise ValueError(
            f"{name} must be {allowed}, got values in [{class_ids.min()}, {class_ids.max()}]."
        )
