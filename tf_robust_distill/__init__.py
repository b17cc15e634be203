"""tf_robust_distill: distillation when the teacher cannot be trusted blindly.

Public names: ``trd.data``, ``trd.nets``, ``trd.losses``, ``trd.metrics``,
``trd.estimators``, ``trd.posthoc`` and every public name of ``trd.objectives``: the
objectives (keras.Model subclasses, each registered by name in ``trd.objectives.registry``),
their callbacks and helpers; ``trd.optim`` holds the learning-rate schedule the jobs' saved
models refer to (imported here so that ``keras.models.load_model`` finds it). The teacher ->
student jobs live in ``tf_robust_distill.pipeline``
(README's Layout section describes every module).
"""

from tf_robust_distill import (
    data,
    distribute,
    estimators,
    losses,
    metrics,
    nets,
    objectives,
    optim,
    posthoc,
    temperature,
)
from tf_robust_distill.objectives import *  # noqa: F403 (the names of objectives.__all__)

__all__ = [
    *objectives.__all__,
    "data",
    "distribute",
    "estimators",
    "losses",
    "metrics",
    "nets",
    "objectives",
    "optim",
    "posthoc",
    "temperature",
]
__version__ = "0.2.0"
