"""Metric formulas shared by the numpy functions and the streaming Keras metrics.

Each function takes an array namespace ``xp``: ``numpy`` for whole arrays, ``keras.ops``
for the accumulated state of a streaming metric (inside a compiled, possibly
distributed step). Both paths therefore compute their results with the same code,
from the same sufficient statistics: a confusion matrix, or per-bin calibration sums.

A class with no examples (an all-zero row of the confusion matrix) has recall NaN
and is left out of the balanced and worst-k averages.
"""

import math

import numpy as np


def confusion_counts(labels, predictions, num_classes, weights, xp):
    """Confusion matrix: entry [i, j] sums the weights of examples of class i predicted j.

    Args:
      labels: integer class ids in [0, num_classes), shape [N].
      predictions: integer class ids in [0, num_classes), shape [N].
      num_classes: number of classes C.
      weights: per-example weights, shape [N].
      xp: array namespace (``numpy`` or ``keras.ops``).

    Returns:
      [C, C] array, rows true classes, columns predicted classes.
    """
    cells = labels * num_classes + predictions
    flat = _sum_by_id(weights, cells, num_classes * num_classes, xp)
    return xp.reshape(flat, (num_classes, num_classes))


def recall_from_confusion(confusion, xp):
    """Per-class recall (diagonal over row sums); NaN for a class with no examples."""
    support = xp.sum(confusion, axis=1)
    return xp.divide(xp.diagonal(confusion), xp.where(support > 0, support, math.nan))


def balanced_accuracy_from_confusion(confusion, xp):
    """Mean recall over the classes that have examples; 0 when no class has any."""
    recall = recall_from_confusion(confusion, xp)
    present = xp.sum(confusion, axis=1) > 0
    return _mean_where(recall, present, xp)


def worst_k_accuracy_from_confusion(confusion, k, xp):
    """Mean of the k lowest recalls among the classes that have examples.

    k = 1 is the worst-class accuracy: one minus the robust objective of Wang et al.,
    "Robust Distillation for Worst-class Performance", eq. (3), with the 0-1 loss. When
    fewer than k classes have examples, the mean runs over those that do (0 when none do).
    """
    recall = recall_from_confusion(confusion, xp)
    present = xp.sum(confusion, axis=1) > 0
    lowest = xp.sort(xp.where(present, recall, math.inf))[:k]
    return _mean_where(lowest, lowest < math.inf, xp)


def top_k_hits(labels, scores, k, xp):
    """1.0 where the label is among the k highest scores of its example, else 0.0, shape [N].

    The label is a hit when fewer than k classes score strictly higher (ties counted in its
    favour); with distinct scores this is "the label is one of the k largest".
    """
    label_score = xp.take_along_axis(scores, xp.reshape(labels, (-1, 1)), axis=-1)
    higher = xp.sum(xp.where(scores > label_score, 1.0, 0.0), axis=-1)
    return xp.where(higher < k, 1.0, 0.0)


def calibration_bin_stats(confidence, correct, weights, num_bins, xp):
    """Per-bin weight, confidence sum and correct sum over equal-width bins of (0, 1].

    Bin b (0-based) holds the confidences in (b / num_bins, (b + 1) / num_bins]
    (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, sec. 2).

    Args:
      confidence: top-1 probability per example, shape [N].
      correct: 1.0 where the top-1 class is the label, else 0.0, shape [N].
      weights: per-example weights, shape [N].
      num_bins: number of bins M.
      xp: array namespace (``numpy`` or ``keras.ops``).

    Returns:
      (bin_weight, confidence_sum, correct_sum), each of shape [M].
    """
    inner_edges = np.arange(1, num_bins) / num_bins
    above_edge = xp.greater(confidence[:, None], inner_edges)
    bins = xp.sum(xp.where(above_edge, 1, 0), axis=1)
    return tuple(
        _sum_by_id(values, bins, num_bins, xp)
        for values in (weights, weights * confidence, weights * correct)
    )


def ece_from_bin_stats(bin_weight, confidence_sum, correct_sum, xp):
    """Expected calibration error from per-bin sums; 0 when there are no examples.

    Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, sec. 2:
    ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)|, which is
    sum_b |correct_sum_b - confidence_sum_b| / n.
    """
    total = xp.sum(bin_weight)
    gaps = xp.sum(xp.abs(correct_sum - confidence_sum))
    return xp.divide(gaps, xp.where(total > 0, total, 1))


def _mean_where(values, mask, xp):
    """Mean of ``values`` where ``mask`` holds; 0 where it holds nowhere."""
    count = xp.sum(xp.where(mask, 1, 0))
    total = xp.sum(xp.where(mask, values, 0))
    return xp.divide(total, xp.where(count > 0, count, 1))


def _sum_by_id(values, ids, length, xp):
    """Sums ``values`` by integer id into an array of ``length`` (a scatter-add).

    numpy has no segment_sum, and keras.ops.bincount does not compile under XLA (its
    output length depends on the data), so this is the one place the namespaces differ.
    """
    if xp is np:
        return np.bincount(ids, weights=values, minlength=length)
    return xp.segment_sum(values, ids, num_segments=length)
