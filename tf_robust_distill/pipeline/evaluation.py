"""The metrics every run reports for a model on a split (DESIGN: results.json)."""

from tf_robust_distill import metrics


def default_worst_k(num_classes):
    """k for worst-k accuracy: 1 below 20 classes, else C/10 capped at 10 (worst-10, App. E.6)."""
    return max(1, min(10, num_classes // 10)) if num_classes >= 20 else 1


def classification_report(labels, probs, num_classes, worst_k=None):
    """accuracy, balanced_accuracy, worst1/worstk accuracy, per_class_recall, ece, nll."""
    k = worst_k or default_worst_k(num_classes)
    return {
        "accuracy": metrics.accuracy(labels, probs),
        "balanced_accuracy": metrics.balanced_accuracy(labels, probs, num_classes),
        "worst1_accuracy": metrics.worst_k_accuracy(labels, probs, num_classes, k=1),
        "worstk_accuracy": metrics.worst_k_accuracy(labels, probs, num_classes, k=k),
        "worst_k": k,
        "per_class_recall": metrics.per_class_recall(labels, probs, num_classes).tolist(),
        "ece": metrics.expected_calibration_error(labels, probs),
        "nll": metrics.nll(labels, probs),
    }
