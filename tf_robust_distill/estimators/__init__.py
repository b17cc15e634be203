"""Estimators on numpy arrays (numpy, scipy, scikit-learn; no TensorFlow, no Keras).

Computed once on the host from the teacher's bulk predictions, then fed to the student:

- `debiasing_weights`: k-NN debiasing weights of Weighted Distillation with Unlabeled Examples.
- `TeacherAccuracyEstimator`, `top_k_mask`: SLaM's alpha(x), k(x) and top(y_s; k(x)).
- `fidelity_weights`, `prediction_entropy`, `augmentation_variance`: fidelity weighting.
- `fit_temperature`, `apply_temperature`, `temperature_nll`: temperature scaling.
"""

from tf_robust_distill.estimators.calibration import (
    apply_temperature,
    fit_temperature,
    temperature_nll,
)
from tf_robust_distill.estimators.confidence import margin, prediction_entropy
from tf_robust_distill.estimators.fidelity import augmentation_variance, fidelity_weights
from tf_robust_distill.estimators.knn_weights import debiasing_weights
from tf_robust_distill.estimators.teacher_accuracy import (
    TeacherAccuracyEstimator,
    top_j_margins,
    top_k_mask,
)

__all__ = [
    "TeacherAccuracyEstimator",
    "apply_temperature",
    "augmentation_variance",
    "debiasing_weights",
    "fidelity_weights",
    "fit_temperature",
    "margin",
    "prediction_entropy",
    "temperature_nll",
    "top_j_margins",
    "top_k_mask",
]
