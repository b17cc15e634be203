"""Evaluation metrics: numpy functions on whole arrays and their streaming Keras twins.

The numpy functions (accuracy, top-k, balanced, worst-k and per-class recall, ECE, NLL,
top-1 agreement) take integer labels and class ids or scores. The streaming metrics accumulate
a confusion matrix or per-bin calibration sums, give the same numbers as the numpy
functions, also under ``tf.distribute``, and work in ``model.compile(metrics=[...])``.
For a streaming NLL use ``keras.metrics.SparseCategoricalCrossentropy(from_logits=True)``.
"""

from tf_robust_distill.metrics.calibration import expected_calibration_error, nll
from tf_robust_distill.metrics.classification import (
    accuracy,
    agreement,
    balanced_accuracy,
    confusion_matrix,
    per_class_recall,
    top_k_accuracy,
    worst_k_accuracy,
)
from tf_robust_distill.metrics.streaming import (
    BalancedAccuracy,
    ExpectedCalibrationError,
    PerClassRecall,
    TopKAccuracy,
    WorstKAccuracy,
)

__all__ = [
    "BalancedAccuracy",
    "ExpectedCalibrationError",
    "PerClassRecall",
    "TopKAccuracy",
    "WorstKAccuracy",
    "accuracy",
    "agreement",
    "balanced_accuracy",
    "confusion_matrix",
    "expected_calibration_error",
    "nll",
    "per_class_recall",
    "top_k_accuracy",
    "worst_k_accuracy",
]
