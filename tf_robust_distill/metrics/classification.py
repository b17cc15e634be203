"""Classification metrics on whole numpy arrays.

``labels`` are integer class ids of shape [N]. ``predictions`` are either integer class
ids of shape [N] or scores (logits or probabilities) of shape [N, C], reduced by argmax.

A class with no examples in ``labels`` has recall NaN in ``per_class_recall`` and is
left out of ``balanced_accuracy`` and ``worst_k_accuracy``; ``worst_k_accuracy`` raises
a ValueError when fewer than k classes have examples.
"""

import numpy as np

from tf_robust_distill import checks
from tf_robust_distill.metrics import formulas


def confusion_matrix(labels, predictions, num_classes):
    """Counts of examples of class i (row) predicted as class j (column), shape [C, C]."""
    num_classes = checks.check_num_classes(num_classes)
    labels = checks.as_labels(labels, num_classes)
    predictions = checks.as_class_ids(predictions, num_classes)
    checks.check_same_length(labels=labels, predictions=predictions)
    weights = np.ones(len(labels))
    counts = formulas.confusion_counts(labels, predictions, num_classes, weights, xp=np)
    return counts.astype(np.int64)


def per_class_recall(labels, predictions, num_classes):
    """Recall of each class, shape [C]; NaN for a class with no examples."""
    confusion = confusion_matrix(labels, predictions, num_classes)
    return formulas.recall_from_confusion(confusion, xp=np)


def balanced_accuracy(labels, predictions, num_classes):
    """Mean per-class recall over the classes that have examples."""
    confusion = confusion_matrix(labels, predictions, num_classes)
    return float(formulas.balanced_accuracy_from_confusion(confusion, xp=np))


def worst_k_accuracy(labels, predictions, num_classes, k=1):
    """Mean of the k lowest per-class recalls; k = 1 is the worst-class accuracy.

    Worst-class accuracy is one minus the robust objective of Wang et al., "Robust
    Distillation for Worst-class Performance", eq. (3), with the 0-1 loss. Classes with
    no examples are left out; fewer than k classes with examples is a ValueError.
    """
    k = checks.check_k(k, checks.check_num_classes(num_classes))
    confusion = confusion_matrix(labels, predictions, num_classes)
    num_present = int(np.count_nonzero(confusion.sum(axis=1)))
    if k > num_present:
        raise ValueError(
            f"k must be at most the number of classes that have examples ({num_present}), "
            f"got k={k}."
        )
    return float(formulas.worst_k_accuracy_from_confusion(confusion, k, xp=np))


def accuracy(labels, predictions):
    """Fraction of examples whose predicted class is the label."""
    labels = checks.as_labels(labels, num_classes=None)
    predictions = checks.as_class_ids(predictions, num_classes=None)
    checks.check_same_length(labels=labels, predictions=predictions)
    return float(np.mean(labels == predictions))


def top_k_accuracy(labels, scores, k=5):
    """Fraction of examples whose label is among the k highest scores (SoTeacher's top-5).

    ``scores`` [N, C] are logits or probabilities; ties count in the label's favour
    (`formulas.top_k_hits`).
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape [N, C], got shape {scores.shape}.")
    k = checks.check_k(k, scores.shape[1])
    labels = checks.as_labels(labels, num_classes=scores.shape[1])
    checks.check_same_length(labels=labels, scores=scores)
    return float(np.mean(formulas.top_k_hits(labels, scores, k, xp=np)))


def agreement(predictions_a, predictions_b):
    """Fraction of examples on which two models predict the same class (top-1 agreement)."""
    predictions_a = checks.as_class_ids(predictions_a, None, name="predictions_a")
    predictions_b = checks.as_class_ids(predictions_b, None, name="predictions_b")
    checks.check_same_length(predictions_a=predictions_a, predictions_b=predictions_b)
    if predictions_a.size == 0:
        raise ValueError("predictions_a and predictions_b must hold at least one example.")
    return float(np.mean(predictions_a == predictions_b))
