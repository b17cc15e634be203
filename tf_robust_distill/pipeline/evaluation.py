"""The metrics every run reports for a model on the validation and test halves (results.json)."""

from tf_robust_distill import data, estimators, inference, metrics

EVALUATED_SPLITS = ("val", "test")
TOP_K = 5
"""Top-k accuracy is reported with more than this many classes (SoTeacher's top-5)."""


def default_worst_k(num_classes):
    """k for worst-k accuracy: 1 below 20 classes, else C/10 capped at 10 (worst-10, App. E.6)."""
    return max(1, min(10, num_classes // 10)) if num_classes >= 20 else 1


def classification_report(labels, probs, num_classes, worst_k=None):
    """accuracy, balanced_accuracy, worst1/worstk accuracy, per_class_recall, ece, nll, and
    top5_accuracy with more than 5 classes."""
    k = worst_k or default_worst_k(num_classes)
    top_k = (
        {f"top{TOP_K}_accuracy": metrics.top_k_accuracy(labels, probs, TOP_K)}
        if num_classes > TOP_K
        else {}
    )
    return {
        "accuracy": metrics.accuracy(labels, probs),
        "balanced_accuracy": metrics.balanced_accuracy(labels, probs, num_classes),
        "worst1_accuracy": metrics.worst_k_accuracy(labels, probs, num_classes, k=1),
        "worstk_accuracy": metrics.worst_k_accuracy(labels, probs, num_classes, k=k),
        "worst_k": k,
        "per_class_recall": metrics.per_class_recall(labels, probs, num_classes).tolist(),
        "ece": metrics.expected_calibration_error(labels, probs),
        "nll": metrics.nll(labels, probs),
        **top_k,
    }


def predict_logits(model, dataset, batch_size):
    """The model's float32 logits on an unbatched (x, label) dataset, in order."""
    return split_logits(model, {"split": dataset}, batch_size)["split"]


def split_logits(model, datasets, batch_size):
    """{name: the model's float32 logits on the unbatched (x, label) dataset}, in order.

    The model is traced once for all of them (`inference`), where ``model.predict``
    traces again for each new batch shape.
    """
    batches = {
        name: data.evaluation_pipeline(dataset, batch_size) for name, dataset in datasets.items()
    }
    function = inference.traced_once(inference.logits_step(model), next(iter(batches.values())))
    return {name: inference.predict(function, split) for name, split in batches.items()}


def report(logits, context, config):
    """classification_report on val and test from logits, plus the probabilities.

    Also reports calibration after temperature scaling (SoTeacher Table 3): T fitted
    on the validation half by NLL, ECE and NLL of softmax(f/T) on both halves.
    """
    splits = context.splits
    temperature = estimators.fit_temperature(logits["val"], splits.val_labels)
    results, probs = {"scaling_temperature": temperature}, {}
    for split in EVALUATED_SPLITS:
        labels = getattr(splits, f"{split}_labels")
        probs[split] = estimators.apply_temperature(logits[split], 1.0)
        results[split] = classification_report(
            labels, probs[split], splits.num_classes, config.eval.worst_k
        )
        scaled = estimators.apply_temperature(logits[split], temperature)
        results[split]["ece_after_scaling"] = metrics.expected_calibration_error(labels, scaled)
        results[split]["nll_after_scaling"] = metrics.nll(labels, scaled)
    return results, probs


def evaluate(model, context, config):
    """`report` of a model's predictions on the validation and test halves."""
    datasets = {split: getattr(context.splits, split) for split in EVALUATED_SPLITS}
    return report(split_logits(model, datasets, config.eval.batch_size), context, config)


def agreement(teacher_probs, student_probs):
    """Teacher-student top-1 agreement on val and test (SoTeacher Table 4)."""
    return {
        split: metrics.agreement(teacher_probs[split], student_probs[split])
        for split in EVALUATED_SPLITS
    }
