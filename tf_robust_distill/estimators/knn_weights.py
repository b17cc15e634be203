"""Debiasing weights for teacher-labeled examples by k-NN regression on a validation set.

Iliopoulos, Kontonis, Baykal, Menghani, Trinh, Vee. Weighted Distillation with Unlabeled
Examples. NeurIPS 2022. Eq. (4) and Algorithm 2 (ESTIMATEWEIGHTS).
"""

import concurrent.futures
import math
import os

import numpy as np

from tf_robust_distill import checks
from tf_robust_distill.estimators.confidence import margin, prediction_entropy
from tf_robust_distill.estimators.planar_neighbors import knn_regression

CONFIDENCES = {"margin": margin, "entropy": prediction_entropy}
"""Confidence scores Algorithm 2 may use as the two coordinates of the k-NN space."""

PROBABILITY_CLIP = 1e-7
"""Student probabilities are clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] inside the
cross-entropy, the usual guard that keeps every loss finite and strictly positive."""


def default_num_neighbors(num_validation):
    """k = ceil(sqrt(|V|) / 2), Algorithm 2 line 3 (Sec. 2.3: k = Theta(q^(2/(2+dim))), dim = 2)."""
    return math.ceil(math.sqrt(num_validation) / 2)


def cross_entropy(targets, probs):
    """l(targets, probs) = -sum_c targets_c log probs_c per row (probs clipped)."""
    log_probs = np.log(np.clip(probs, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP))
    return -(targets * log_probs).sum(axis=1)


def confidence_pairs(teacher_probs, student_probs, confidence):
    """k-NN coordinates (teacher confidence, student confidence) [N, 2], Algorithm 2 lines 5, 14."""
    score = CONFIDENCES[confidence]
    return np.stack([score(teacher_probs), score(student_probs)], axis=1)


BLOCK_ROWS = 4096
"""The unlabeled probabilities are checked and scored this many rows at a time, in float64:
a block stays in the cache instead of a float64 copy of the whole [N, C] arrays."""


def unlabeled_pairs(teacher_probs, student_probs, confidence, num_classes):
    """`confidence_pairs` [N, 2] of the teacher-labeled examples, checked block by block.

    Each block of `BLOCK_ROWS` rows of both arrays is checked (`checks.as_probabilities`,
    its rows named in the error) and scored on its own, the blocks on every core.
    """
    arrays = {"teacher_probs_unlabeled": teacher_probs, "student_probs_unlabeled": student_probs}
    for name, probs in arrays.items():
        probs = arrays[name] = np.asarray(probs)
        if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] < 2:
            checks.as_probabilities(probs, name)  # raises the error that names the shape
    teacher_probs, student_probs = arrays.values()
    checks.check_same_shape(teacher_probs, student_probs, *arrays)
    checks.check_num_columns(teacher_probs, num_classes, "teacher_probs_unlabeled")
    pairs = np.empty((len(teacher_probs), 2))

    def score(start):
        rows = slice(start, start + BLOCK_ROWS)
        where = f"rows {start} to {min(start + BLOCK_ROWS, len(pairs)) - 1} of "
        pairs[rows] = confidence_pairs(
            *(checks.as_probabilities(a[rows], where + name) for name, a in arrays.items()),
            confidence,
        )

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(score, range(0, len(pairs), BLOCK_ROWS)))
    return pairs


def validation_responses(teacher_probs, student_probs, labels, training_targets=None):
    """The regression responses (p, distortion) [V, 2] of Algorithm 2, lines 6-9.

    (0, 1) where the teacher's argmax is the true label; otherwise
    (1, l(Teacher(x), student) / l(y, student)) with l the cross-entropy of the student's
    prediction against Teacher(x), resp. the one-hot true label. Teacher(x) in line 9 is
    the label the student's loss reads (`training_targets`: the teacher's one-hot argmax
    in hard distillation; default `teacher_probs`).
    """
    if training_targets is None:
        training_targets = teacher_probs
    teacher_wrong = teacher_probs.argmax(axis=1) != labels
    one_hot = np.eye(teacher_probs.shape[1])[labels]
    distortion = cross_entropy(training_targets, student_probs) / cross_entropy(
        one_hot, student_probs
    )
    return np.stack(
        [teacher_wrong.astype(np.float64), np.where(teacher_wrong, distortion, 1.0)], axis=1
    )


def weight_from_estimates(corruption_prob, distortion):
    """w = min(1, 1 / (1 + p (d - 1))), Eq. (4) projected onto [0, 1] (Algorithm 2 line 17).

    For p in [0, 1] and d > 0 the denominator (1 - p) + p d is positive, so w lies in (0, 1].
    """
    return np.minimum(1.0, 1.0 / (1.0 + corruption_prob * (distortion - 1.0)))


def debiasing_weights(
    teacher_probs_val,
    student_probs_val,
    labels_val,
    teacher_probs_unlabeled,
    student_probs_unlabeled,
    confidence="margin",
    k=None,
    training_targets_val=None,
):
    """Weights in (0, 1] for the teacher-labeled examples, Algorithm 2 of Iliopoulos et al. 2022.

    Every validation example becomes a point (teacher confidence, student confidence) with the
    response (p, distortion) of `validation_responses`. For every unlabeled example the
    responses of its k nearest validation points (Euclidean distance in that 2-D space) are
    averaged into (p_hat, d_hat), and its weight is `weight_from_estimates(p_hat, d_hat)`.
    The denominator 1 + p_hat (d_hat - 1) = (1 - p_hat) + p_hat d_hat is never <= 0: p_hat is
    in [0, 1] and every distortion is > 0 because the clipped cross-entropies are finite and
    positive. Where the teacher is right on all k neighbours, p_hat = 0 and the weight is 1.

    Only the teacher-labeled examples are weighted here: following Algorithm 1 (lines 6-7) the
    caller gives the labeled examples weight 1. Teacher(x) enters Algorithm 2 twice: its
    confidence is a k-NN coordinate (lines 5, 14: pass the teacher's soft probabilities,
    also in hard distillation, else the teacher's margin is always 1) and the loss ratio of
    line 9 scores the student against the label it trains on (`training_targets_val`: the
    one-hot argmax in hard distillation). The nearest neighbours are exact
    (`planar_neighbors.knn_regression`: sklearn's k-NN regression, ties by lower index).

    Args:
      teacher_probs_val, student_probs_val: [V, C] probabilities on the validation set.
      labels_val: [V] integer true labels of the validation set.
      teacher_probs_unlabeled, student_probs_unlabeled: [N, C] probabilities on the
        teacher-labeled (unlabeled) examples.
      confidence: 'margin' (top-1 minus top-2 probability) or 'entropy'.
      k: number of neighbours, 1 <= k <= V / 2; default ceil(sqrt(V) / 2).
      training_targets_val: [V, C] the labels the student trains on at V, for line 9's
        loss ratio; default `teacher_probs_val` (soft distillation).

    Returns:
      float64 array [N] of weights.
    """
    if confidence not in CONFIDENCES:
        raise ValueError(f"confidence must be one of {sorted(CONFIDENCES)}, got {confidence!r}.")
    teacher_probs_val = checks.as_probabilities(teacher_probs_val, "teacher_probs_val")
    student_probs_val = checks.as_probabilities(student_probs_val, "student_probs_val")
    checks.check_same_shape(
        teacher_probs_val, student_probs_val, "teacher_probs_val", "student_probs_val"
    )
    num_validation, num_classes = teacher_probs_val.shape
    labels_val = checks.as_labels(labels_val, num_classes, "labels_val", num_validation)
    if k is None:
        k = default_num_neighbors(num_validation)
    if not checks.is_integer(k) or k < 1 or 2 * k > num_validation:
        raise ValueError(
            f"k must be an integer with 1 <= k and 2k <= the number of validation examples "
            f"({num_validation}), got k={k!r}."
        )
    queries = unlabeled_pairs(
        teacher_probs_unlabeled, student_probs_unlabeled, confidence, num_classes
    )
    if training_targets_val is not None:
        training_targets_val = checks.as_probabilities(training_targets_val, "training_targets_val")
        checks.check_same_shape(
            teacher_probs_val, training_targets_val, "teacher_probs_val", "training_targets_val"
        )
    responses = validation_responses(
        teacher_probs_val, student_probs_val, labels_val, training_targets_val
    )
    corruption_prob, distortion = knn_regression(
        confidence_pairs(teacher_probs_val, student_probs_val, confidence),
        responses,
        queries,
        k,
    ).T
    return weight_from_estimates(corruption_prob, distortion)
