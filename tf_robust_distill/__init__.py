"""tf_robust_distill: distillation when the teacher cannot be trusted blindly.

Public names follow DESIGN's contract: ``trd.data``, ``trd.nets``, ``trd.losses``,
``trd.metrics``, ``trd.estimators``, ``trd.posthoc`` and the objectives
(keras.Model subclasses). The teacher -> student jobs live in
``tf_robust_distill.pipeline``.
"""

from tf_robust_distill import (
    data,
    distribute,
    estimators,
    losses,
    metrics,
    nets,
    posthoc,
    temperature,
)
from tf_robust_distill.objectives import (
    AdaAlphaModel,
    AdaMarginModel,
    AttentionTransferModel,
    BalancedModel,
    ConsistencyWeightScheduler,
    DebiasingWeightUpdate,
    DistillationModel,
    FitNetsModel,
    GroupDROModel,
    KDModel,
    MultiplierUpdate,
    RobustLossModel,
    RobustModel,
    SLaMModel,
    SoTeacherModel,
    StandardModel,
    VIDModel,
    WeightedModel,
    lipschitz_upper_bound,
)

__all__ = [
    "AdaAlphaModel",
    "AdaMarginModel",
    "AttentionTransferModel",
    "BalancedModel",
    "ConsistencyWeightScheduler",
    "DebiasingWeightUpdate",
    "DistillationModel",
    "FitNetsModel",
    "GroupDROModel",
    "KDModel",
    "MultiplierUpdate",
    "RobustLossModel",
    "RobustModel",
    "SLaMModel",
    "SoTeacherModel",
    "StandardModel",
    "VIDModel",
    "WeightedModel",
    "data",
    "distribute",
    "estimators",
    "lipschitz_upper_bound",
    "losses",
    "metrics",
    "nets",
    "posthoc",
    "temperature",
]
__version__ = "0.1.0"
