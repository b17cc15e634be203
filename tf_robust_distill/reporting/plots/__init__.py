"""Plots of results, each a matplotlib.figure.Figure returned to the caller (see figures)."""

from tf_robust_distill.reporting.plots.accuracy_vs_labeled import plot_accuracy_vs_labeled
from tf_robust_distill.reporting.plots.multipliers import plot_multipliers
from tf_robust_distill.reporting.plots.pareto import plot_pareto
from tf_robust_distill.reporting.plots.per_class_recall import plot_per_class_recall
from tf_robust_distill.reporting.plots.reliability import plot_reliability
from tf_robust_distill.reporting.plots.trial_points import plot_trial_points

__all__ = [
    "plot_accuracy_vs_labeled",
    "plot_multipliers",
    "plot_pareto",
    "plot_per_class_recall",
    "plot_reliability",
    "plot_trial_points",
]
