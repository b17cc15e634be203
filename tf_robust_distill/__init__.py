"""tf_robust_distill: distillation when the teacher cannot be trusted blindly.

Public names follow DESIGN's contract: ``trd.data``, ``trd.nets``, ``trd.losses``,
``trd.metrics``, ``trd.estimators`` and the objectives (keras.Model subclasses).
The teacher -> student job lives in ``tf_robust_distill.pipeline``.
"""

from tf_robust_distill import data, distribute, estimators, losses, metrics, nets
from tf_robust_distill.objectives import (
    DistillationModel,
    KDModel,
    SoTeacherModel,
    StandardModel,
    lipschitz_upper_bound,
)

__all__ = [
    "DistillationModel",
    "KDModel",
    "SoTeacherModel",
    "StandardModel",
    "lipschitz_upper_bound",
    "data",
    "distribute",
    "estimators",
    "losses",
    "metrics",
    "nets",
]
__version__ = "0.1.0"
