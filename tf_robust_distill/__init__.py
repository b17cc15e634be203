"""tf_robust_distill: distillation when the teacher cannot be trusted blindly."""

from tf_robust_distill import data, estimators, losses, metrics, nets

__all__ = ["data", "estimators", "losses", "metrics", "nets"]
__version__ = "0.1.0"
