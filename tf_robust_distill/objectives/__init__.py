"""Objectives: keras.Model subclasses whose train_step implements a paper's loss.

Each registers its names in `registry` (``registry.build(name, backbone, role=...)``).
"""

from tf_robust_distill.objectives import registry
from tf_robust_distill.objectives.adaptive import AdaAlphaModel, AdaMarginModel
from tf_robust_distill.objectives.balanced import (
    BalancedModel,
    class_priors_from_labels,
    class_priors_from_probs,
)
from tf_robust_distill.objectives.base import DistillationModel
from tf_robust_distill.objectives.feature_distillation import (
    AttentionTransferModel,
    FeatureKDModel,
    FitNetsModel,
)
from tf_robust_distill.objectives.group_dro import GroupDROModel
from tf_robust_distill.objectives.lipschitz import lipschitz_constants, lipschitz_upper_bound
from tf_robust_distill.objectives.online_teacher import OnlineTeacher
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel
from tf_robust_distill.objectives.robust_slam import RobustSLaMModel
from tf_robust_distill.objectives.slam import RobustLossModel, SLaMModel
from tf_robust_distill.objectives.soteacher import ConsistencyWeightScheduler, SoTeacherModel
from tf_robust_distill.objectives.standard import KDModel, StandardModel
from tf_robust_distill.objectives.vid import VIDModel
from tf_robust_distill.objectives.weighted import DebiasingWeightUpdate, WeightedModel

__all__ = [
    "AdaAlphaModel",
    "AdaMarginModel",
    "AttentionTransferModel",
    "FeatureKDModel",
    "FitNetsModel",
    "BalancedModel",
    "ConsistencyWeightScheduler",
    "DebiasingWeightUpdate",
    "DistillationModel",
    "GroupDROModel",
    "KDModel",
    "MultiplierUpdate",
    "OnlineTeacher",
    "RobustLossModel",
    "RobustModel",
    "RobustSLaMModel",
    "SLaMModel",
    "SoTeacherModel",
    "StandardModel",
    "VIDModel",
    "WeightedModel",
    "class_priors_from_labels",
    "class_priors_from_probs",
    "lipschitz_constants",
    "lipschitz_upper_bound",
    "registry",
]
