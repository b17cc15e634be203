"""The files of one run's directory: results.json, results.md and its plots."""

import os

from tf_robust_distill import files
from tf_robust_distill.reporting.histories import logged_multipliers
from tf_robust_distill.reporting.plots import plot_multipliers, plot_per_class_recall
from tf_robust_distill.reporting.tables import markdown_table


def write_run(results, workdir, class_names=None, models=None):
    """results.json, results.md and per_class_recall.png in `workdir`; returns the table.

    The files are published as one unit with the `models` (`files.atomic_group`): nothing
    is replaced until every file is written, and results.json is renamed into place last,
    so a run that fails while writing keeps the previous run's files, and a crash between
    the renames leaves no results.json rather than old results beside a new model.

    Args:
      models: {file name: function that writes that file to the path it is given}, e.g.
        ``{"student.keras": student.save}``; a name mapped to None is removed (the model
        of an earlier run that this run does not have).
    """
    models = models or {}
    table = markdown_table(results)
    written = {name: write for name, write in models.items() if write is not None}
    paths = [
        os.path.join(workdir, name) for name in [*written, "results.md", "per_class_recall.png"]
    ]
    stale = [os.path.join(workdir, name) for name, write in models.items() if write is None]
    seal = os.path.join(workdir, "results.json")
    with files.atomic_group(paths, seal, remove=stale) as partial:
        for name, write in written.items():
            write(partial[os.path.join(workdir, name)])
        with open(partial[os.path.join(workdir, "results.md")], "w") as handle:
            handle.write(table)
        plot_per_class_recall(
            results, partial[os.path.join(workdir, "per_class_recall.png")], "test", class_names
        )
        files.write_json(results, partial[seal])
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
