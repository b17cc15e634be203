"""Results on disk and on screen: JSON files, markdown tables, summaries, plots.

Every number a run reports is written here by code, from the dict that
`tf_robust_distill.pipeline` returns. One module per concern:

- ``tables``: ``markdown_table`` of a run's results, ``markdown_rows`` of any rows.
- ``statistics``: ``mean_and_stderr``, ``format_mean``, ``paired_difference``,
  ``format_difference``, ``paired_p_value``, ``format_paired_test``,
  ``independent_difference``, ``welch_p_value``, ``format_welch_test``, ``pareto_front``.
- ``histories``: ``logged_multipliers``, the λ a Keras History logged.
- ``plots``: one module per plot, each returning a ``matplotlib.figure.Figure``
  (no pyplot state, no backend chosen at import).
- ``run_files``: ``write_run`` and ``write_multiplier_plots``, the files of a run directory.

Re-exported for the callers of ``reporting``: ``write_json`` of ``tf_robust_distill.files``
(the one atomic writer), and the reliability-diagram sums ``reliability_bins`` and
``ece_of_bins``, calibration statistics of ``tf_robust_distill.metrics.calibration``.
"""

from tf_robust_distill.files import write_json
from tf_robust_distill.metrics.calibration import ece_of_bins, reliability_bins
from tf_robust_distill.reporting.histories import logged_multipliers
from tf_robust_distill.reporting.plots import (
    plot_accuracy_vs_labeled,
    plot_multipliers,
    plot_pareto,
    plot_per_class_recall,
    plot_reliability,
    plot_trial_points,
)
from tf_robust_distill.reporting.run_files import write_multiplier_plots, write_run
from tf_robust_distill.reporting.statistics import (
    format_difference,
    format_mean,
    format_paired_test,
    format_welch_test,
    independent_difference,
    mean_and_stderr,
    paired_difference,
    paired_p_value,
    pareto_front,
    welch_p_value,
)
from tf_robust_distill.reporting.tables import TABLE_METRICS, markdown_rows, markdown_table

__all__ = [
    "TABLE_METRICS",
    "ece_of_bins",
    "format_difference",
    "format_mean",
    "format_paired_test",
    "format_welch_test",
    "independent_difference",
    "logged_multipliers",
    "markdown_rows",
    "markdown_table",
    "mean_and_stderr",
    "paired_difference",
    "paired_p_value",
    "pareto_front",
    "welch_p_value",
    "plot_accuracy_vs_labeled",
    "plot_multipliers",
    "plot_pareto",
    "plot_per_class_recall",
    "plot_reliability",
    "plot_trial_points",
    "reliability_bins",
    "write_json",
    "write_multiplier_plots",
    "write_run",
]
