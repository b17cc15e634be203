"""Objectives: keras.Model subclasses whose train_step implements a paper's loss."""

from tf_robust_distill.objectives.base import DistillationModel
from tf_robust_distill.objectives.standard import KDModel, StandardModel

__all__ = ["DistillationModel", "KDModel", "StandardModel"]
