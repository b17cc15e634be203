"""Objectives: keras.Model subclasses whose train_step implements a paper's loss."""

from tf_robust_distill.objectives.base import DistillationModel
from tf_robust_distill.objectives.lipschitz import lipschitz_constants, lipschitz_upper_bound
from tf_robust_distill.objectives.soteacher import ConsistencyWeightScheduler, SoTeacherModel
from tf_robust_distill.objectives.standard import KDModel, StandardModel

__all__ = [
    "ConsistencyWeightScheduler",
    "DistillationModel",
    "KDModel",
    "SoTeacherModel",
    "StandardModel",
    "lipschitz_constants",
    "lipschitz_upper_bound",
]
