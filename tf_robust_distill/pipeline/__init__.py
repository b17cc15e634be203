"""Teacher -> labels -> student -> evaluation, as the experiments and notebooks run it."""

from tf_robust_distill.pipeline.evaluation import classification_report
from tf_robust_distill.pipeline.job import run

__all__ = ["classification_report", "run"]
