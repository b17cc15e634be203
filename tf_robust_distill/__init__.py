"""tf_robust_distill: distillation when the teacher cannot be trusted blindly.

Public names: ``trd.data``, ``trd.nets``, ``trd.losses``, ``trd.metrics``,
``trd.estimators``, ``trd.posthoc`` and the objectives (keras.Model subclasses), each
registered by name in ``trd.objectives.registry``. The teacher -> student jobs live in
``tf_robust_distill.pipeline`` (README's Layout section describes every module).
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
