"""Calibration and likelihood metrics on whole numpy arrays.

``labels`` are integer class ids of shape [N]; ``probs`` are probabilities of shape [N, C]
(rows summing to one: pass softmax(logits), not logits).
"""

import numpy as np

from tf_robust_distill import checks
from tf_robust_distill.metrics import formulas

# Floor on the probability of the label before the log, equal to Keras' default epsilon so
# that ``nll`` agrees with keras.metrics.SparseCategoricalCrossentropy on probabilities.
_PROBABILITY_FLOOR = 1e-7


def calibration_bins(labels, probs, num_bins=15):
    """(count, confidence_sum, correct_sum) [num_bins] of the equal-width confidence bins.

    Bin b holds the examples whose top-1 confidence max_c probs[i, c] lies in
    (b / num_bins, (b + 1) / num_bins] (Guo et al., ICML 2017, sec. 2); the sums add up
    over data sets, and `formulas.ece_from_bin_stats` turns them into the ECE.
    """
    num_bins = checks.check_num_bins(num_bins)
    probs = checks.as_probabilities(probs)
    labels = checks.as_labels(labels, probs.shape[1])
    checks.check_same_length(labels=labels, probs=probs)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    return formulas.calibration_bin_stats(
        confidence, correct, np.ones_like(confidence), num_bins, xp=np
    )


RELIABILITY_BIN_KEYS = ("count", "confidence_sum", "correct_sum")


def reliability_bins(labels, probs, num_bins=15):
    """`calibration_bins` as a JSON-able dict: the per-bin sums of a reliability diagram.

    Bin b holds the top-1 confidences in (b/M, (b+1)/M] (Guo et al., ICML 2017, sec. 2).

    Returns:
      {"count", "confidence_sum", "correct_sum"}: lists of length `num_bins`; they add
      up over runs (pooling seeds), and `ece_of_bins` turns them into the ECE.
    """
    sums = calibration_bins(labels, probs, num_bins)
    return {key: values.tolist() for key, values in zip(RELIABILITY_BIN_KEYS, sums, strict=True)}


def ece_of_bins(bins):
    """The expected calibration error of `reliability_bins` (summed over runs or not)."""
    sums = (np.asarray(bins[key], np.float64) for key in RELIABILITY_BIN_KEYS)
    return float(formulas.ece_from_bin_stats(*sums, xp=np))


def expected_calibration_error(labels, probs, num_bins=15):
    """Expected calibration error of the top-1 prediction over equal-width confidence bins.

    Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, sec. 2:
    ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)|, where B_b holds the examples whose
    confidence max_c probs[i, c] lies in (b / num_bins, (b + 1) / num_bins].
    """
    return float(formulas.ece_from_bin_stats(*calibration_bins(labels, probs, num_bins), xp=np))


def nll(labels, probs):
    """Mean negative log-likelihood of the labels, -mean_i log probs[i, labels[i]].

    The probability of the label is clipped from below at 1e-7, so a confidently wrong
    prediction costs at most -log(1e-7) ~ 16.1 instead of infinity.
    """
    probs = checks.as_probabilities(probs)
    labels = checks.as_labels(labels, probs.shape[1])
    checks.check_same_length(labels=labels, probs=probs)
    label_probs = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(label_probs, _PROBABILITY_FLOOR))))
