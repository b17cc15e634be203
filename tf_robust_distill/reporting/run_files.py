"""The files of one run's directory: results.json, results.md and its plots."""

import os

from tf_robust_distill import files
from tf_robust_distill.reporting.histories import logged_multipliers
from tf_robust_distill.reporting.plots import plot_multipliers, plot_per_class_recall
from tf_robust_distill.reporting.tables import markdown_table


def write_run(results, workdir, class_names=None):
    """results.json, results.md and per_class_recall.png in `workdir`; returns the table."""
    files.write_json(results, os.path.join(workdir, "results.json"))
    table = markdown_table(results)
    files.write_text(table, os.path.join(workdir, "results.md"))
    plot_per_class_recall(
        results, os.path.join(workdir, "per_class_recall.png"), "test", class_names
    )
    return table


def write_multiplier_plots(histories, workdir, class_names=None):
    """`{role}_multipliers.png` in `workdir` for each role whose History logged λ.

    Args:
      histories: {role: History dict} (empty for a model loaded, not fitted, here).

    Returns:
      the paths written.
    """
    paths = []
    for role, history in histories.items():
        if history and logged_multipliers(history) is not None:
            path = os.path.join(workdir, f"{role}_multipliers.png")
            plot_multipliers(history, path, class_names, title=f"{role}: DRO multipliers λ")
            paths.append(path)
    return paths
