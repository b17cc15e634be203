r"""Distillation with unlabeled examples: objectives × labeled sizes × trials × soft/hard labels.

  python -m experiments.unlabeled_distill --config=configs/unlabeled_distill.py:local \
      --workdir=runs/unlabeled

For every size N of the labeled set A a teacher and a student are trained on A once
(stored under WORKDIR/runs/). Then, per size, kind of labels and objective, the options
of ``config.selection`` are chosen on a held-out part H of V (`pipeline.unlabeled.search`:
one student per candidate, scored on H); every trial re-splits the rest into V and U, and
every objective distills a student with its chosen options from the pre-trained one
(weighted distillation §3.1.1, SLaM §4.1). Reports the test accuracy, mean ± standard
error over the trials, per objective and labeled size, for soft and hard distillation:
after the last epoch, and the best over the epochs as SLaM §4.2 does; beside the teacher
and the student trained on A alone; each objective's paired difference from vanilla with
its p-value; the chosen options. Also compares debiasing weights estimated once with
weights re-estimated during training (weighted paper §3.2, Figure 9). Writes
WORKDIR/summary.md, WORKDIR/summary.json and WORKDIR/accuracy_vs_labeled.png; with
grid.worst_class_pairs also the worst-class and balanced accuracy of every objective, those
pairs' paired differences and WORKDIR/worst_vs_balanced.png (configs/unlabeled_robust.py). Each
finished cell (search candidates too) is stored under WORKDIR/cells at once; a rerun
skips it.
"""

import dataclasses
import itertools
import os

from absl import app, flags

from configs import unlabeled_distill as unlabeled_config
from experiments import config_help, grid_flags, unlabeled_summary
from tf_robust_distill import files, precision, reporting
from tf_robust_distill.grid import Grid, cell_key
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline import unlabeled
from tf_robust_distill.pipeline.unlabeled import search

__doc__ += "\n" + config_help.fields_help(unlabeled_config)
flags.adopt_module_key_flags(grid_flags)  # --config, --workdir, --report_only in --help

flags.mark_flags_as_required(grid_flags.REQUIRED)

LABELS = ("soft", "hard")
COMPARISON_LABELS = "soft"
# The objectives with debiasing weights: one per example of the student's training set.
DEBIASED = tuple(
    name
    for name in registry.names(registry.UNLABELED_STUDENT)
    if "num_train_examples" in registry.get(name).derived
)
SCHEDULE = "weights_every_n_epochs"
# The nets of the labeled stage whose test reports every cell records (`check_one_stage`).
STAGE_ROLES = ("teacher", "pretrained_student")


def method_name(objective, weights_every_n_epochs=None):
    """A comparison row's name: the objective and when its debiasing weights are estimated."""
    if weights_every_n_epochs is None:
        return f"{objective} (weights once)"
    if weights_every_n_epochs == 1:
        return f"{objective} (weights every epoch)"
    return f"{objective} (weights every {weights_every_n_epochs} epochs)"


def uses_fidelity_weights(config, objective):
    spec = registry.get(objective, registry.UNLABELED_STUDENT)
    arguments = {**spec.settings(config.grid.objective_kw.to_dict()), **spec.fixed}
    return bool(arguments.get("use_fidelity_weights"))


def row_name(config, objective):
    """A main row's name: the objective, with the teacher uncertainty of its fidelity weights."""
    if uses_fidelity_weights(config, objective):
        return f"{objective} ({config.unlabeled.fidelity_uncertainty.replace('_', ' ')})"
    return objective


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a table: its name, objective and cells {num_labeled: [one per trial]}."""

    name: str
    objective: str
    cells: dict


@dataclasses.dataclass(frozen=True)
class Plan:
    """The grid's rows, from the config and the options chosen so far.

    Attributes:
      sizes: the labeled sizes (grid.num_labeled).
      main: {labels: [Row per objective]}.
      comparison: [Row per schedule of grid.weights_schedules] (soft labels).
      ablation: the temperature ablation's cells.
      chosen: {(num_labeled, labels, objective): `search.choose`'s (options, records),
        or None while a search is not finished}.
      row_name: objective -> its main row's name.
    """

    sizes: tuple
    main: dict
    comparison: list
    ablation: list
    chosen: dict
    row_name: object

    def cells(self):
        """Every cell of the rows, each once, in the order of the tables."""
        cells = {}
        rows = [*itertools.chain(*self.main.values()), *self.comparison]
        for size in self.sizes:
            for row in rows:
                for cell in row.cells.get(size, []):
                    cells.setdefault(cell_key(cell), cell)
        for cell in self.ablation:
            cells.setdefault(cell_key(cell), cell)
        return list(cells.values())


def main_cell(num_labeled, labels, objective, trial, options):
    return {
        "num_labeled": num_labeled,
        "labels": labels,
        "objective": objective,
        "trial": trial,
        "options": options,
    }


def trial_options(config, num_labeled, labels, objective, chosen):
    """The options of a reported trial: the search's winners (None: not chosen yet); a
    debiased objective also names its schedule, so that a Figure 9 cell with the same
    schedule is the same cell."""
    found = chosen.get((num_labeled, labels, objective), ({}, []))
    if found is None:
        return None
    options = dict(found[0])
    if objective in DEBIASED:
        options.setdefault(SCHEDULE, config.unlabeled[SCHEDULE])
    return options


def search_keys(config, sizes=None):
    """(num_labeled, labels, objective) of every search of the grid."""
    return [
        (num_labeled, labels, objective)
        for num_labeled in sizes or config.grid.num_labeled
        for labels in config.grid.labels
        for objective in config.grid.objectives
        if search.stages(config, objective, labels)
    ]


def plan(config, chosen=None):
    """The `Plan` of `config` with the options `chosen` ({} before any search: the
    config's own options, e.g. to check every cell)."""
    grid, chosen = config.grid, chosen or {}

    def row(name, objective, labels, extra=None):
        cells = {}
        for size in grid.num_labeled:
            options = trial_options(config, size, labels, objective, chosen)
            if options is not None:
                options.update(extra or {})
                cells[size] = [
                    main_cell(size, labels, objective, trial, options) for trial in grid.trials
                ]
        return Row(name, objective, cells)

    main = {
        labels: [
            row(row_name(config, objective), objective, labels) for objective in grid.objectives
        ]
        for labels in grid.labels
    }
    comparison = [
        row(method_name("weighted", every), "weighted", COMPARISON_LABELS, {SCHEDULE: every})
        for every in grid.weights_schedules
    ]
    ablation = grid.temperature_ablation
    ablation_cells = [
        {**main_cell(size, "soft", objective, trial, {}), "t_A": t_a, "t_B": t_b}
        for size in ablation.num_labeled
        for objective in ablation.objectives
        for t_a, t_b in itertools.product(ablation.temperatures, repeat=2)
        for trial in grid.trials
    ]
    return Plan(
        tuple(grid.num_labeled),
        main,
        comparison,
        ablation_cells,
        chosen,
        lambda objective: row_name(config, objective),
    )


def planned_cells(config):
    """Every reported cell with the config's own options (no search run): what `check_grid`
    checks and what a grid without searches runs."""
    return plan(config).cells()


def in_temperature_ablation(cell):
    return "t_A" in cell


def cell_config(config, cell):
    """`config` with the cell's objective (and the options of grid.objective_kw it reads),
    labeled size, labels, trial and options; a search cell runs on the search's own trial
    with H held out (`search.holdout_size`)."""
    config = config.copy_and_resolve_references()
    spec = registry.get(cell["objective"], registry.UNLABELED_STUDENT)
    config.student.objective = cell["objective"]
    config.student.objective_kw = spec.select_options(config.grid.objective_kw.to_dict())
    config.student.hard_labels = cell["labels"] == "hard"
    settings = config.unlabeled
    settings.num_labeled = cell["num_labeled"]
    if "search" in cell:
        settings.trial = config.selection.trial
        settings.holdout_size = search.holdout_size(config)
    else:
        settings.trial = cell["trial"]
    search.apply_options(config, cell["options"])
    if in_temperature_ablation(cell):
        settings.labeled_temperature, config.student.temperature = cell["t_A"], cell["t_B"]
    return config


def every_search_cell(config):
    """Every candidate of every search, each stage at the config's own earlier options."""
    return [
        cell
        for num_labeled, labels, objective in search_keys(config)
        for name, space in search.stages(config, objective, labels)
        for cell in search.search_cells(
            {"num_labeled": num_labeled, "labels": labels, "objective": objective}, name, space, {}
        )
    ]


def check_grid(config):
    """Raise a ValueError for a bad grid or selection value; reads no data, writes nothing."""
    unknown = sorted(set(config.grid.labels) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown labels {unknown}; grid.labels takes {', '.join(LABELS)}")
    outside = sorted(
        set(config.grid.temperature_ablation.num_labeled) - set(config.grid.num_labeled)
    )
    if outside:
        raise ValueError(
            f"grid.temperature_ablation.num_labeled {outside} are not in grid.num_labeled "
            f"{tuple(config.grid.num_labeled)}"
        )
    compared = {objective for pair in config.grid.worst_class_pairs for objective in pair}
    missing = sorted(compared - set(config.grid.objectives))
    if missing:
        raise ValueError(f"grid.worst_class_pairs name {missing}, not in grid.objectives")
    search.check_selection(config)
    for cell in [*planned_cells(config), *every_search_cell(config)]:
        unlabeled.check_settings(cell_config(config, cell))


def check_one_stage(seen, cell, result):
    """Refuse cells of one labeled size computed from different labeled stages.

    Every cell of a size must start from the same teacher and student trained on A: a
    search compares its candidates, and the paired differences compare objectives, on
    that premise. A stage trained again (its stored models deleted, or a grid resumed on a
    machine whose float rounding differs) gives other nets; their test reports tell.

    Args:
      seen: {num_labeled: the stage's test reports}, filled by the first cell of a size.
    """
    reports = {role: result[role]["test"] for role in STAGE_ROLES}
    first = seen.setdefault(cell["num_labeled"], reports)
    if reports != first:
        raise ValueError(
            f"the cells of {cell['num_labeled']} labeled examples come from different "
            "teachers or students trained on A (teacher test accuracy "
            f"{first['teacher']['accuracy']} and {reports['teacher']['accuracy']}, the "
            f"second in {cell_key(cell)}): the stage was trained again. Keep the stage's "
            "models with the cells (<workdir>/runs/*-labeled*/) so that a resumed grid loads "
            "them, or delete the cells of the other stage."
        )


@precision.keeps_caller_policy
def run_grid(config, workdir, report_only=False):
    """Run (or resume) the grid of `config` in `workdir` and write its summary.

    Every value is checked before anything is trained or written. Per labeled size, the
    searches run first, then the reported trials with the chosen options; the
    temperature ablation last. With `report_only` the summary covers the cells already
    stored and nothing is trained (a row whose search is not finished stays empty). A
    teacher and a pre-trained student are trained (or loaded) for a labeled size the
    first time one of its cells needs computing.

    Returns:
      the markdown summary.
    """
    check_grid(config)
    context = unlabeled.prepare(config, config.grid.num_labeled)
    grid, stages = Grid(workdir, config), {}

    def compute(cell):
        trial_config = cell_config(config, cell)
        num_labeled = trial_config.unlabeled.num_labeled
        if num_labeled not in stages:
            runs = os.path.join(workdir, "runs")
            stages[num_labeled] = unlabeled.labeled_stage(trial_config, context, runs)
        return unlabeled.run_trial(trial_config, context, stages[num_labeled])

    stage_reports = {}

    def results(cells):
        if not report_only:
            grid.run_all(cells, compute, settings=lambda cell: cell_config(config, cell))
        if not all(grid.done(cell) for cell in cells):
            return None
        found = [grid.result(cell) for cell in cells]
        for cell, result in zip(cells, found, strict=True):
            check_one_stage(stage_reports, cell, result)
        return found

    chosen = {}
    for size in config.grid.num_labeled:
        for num_labeled, labels, objective in search_keys(config, (size,)):
            cell = {"num_labeled": num_labeled, "labels": labels, "objective": objective}
            chosen[num_labeled, labels, objective] = search.choose(config, cell, results)
        reported = plan(config, chosen).cells()
        results([cell for cell in reported if cell["num_labeled"] == size and "t_A" not in cell])
    final = plan(config, chosen)
    results(final.ablation)
    stored = {cell_key(cell): grid.result(cell) for cell in final.cells() if grid.done(cell)}
    text = unlabeled_summary.summary(final, stored, config)
    files.write_text(text, os.path.join(workdir, "summary.md"))
    reporting.write_json(
        {
            "cells": [
                {"cell": cell, "result": stored[cell_key(cell)]}
                for cell in final.cells()
                if cell_key(cell) in stored
            ],
            "selection": [
                {
                    "num_labeled": key[0],
                    "labels": key[1],
                    "objective": key[2],
                    "records": found and found[1],
                }
                for key, found in chosen.items()
            ],
        },
        os.path.join(workdir, "summary.json"),
    )
    unlabeled_summary.plot_accuracy_vs_labeled(
        final, stored, config, os.path.join(workdir, "accuracy_vs_labeled.png")
    )
    if config.grid.worst_class_pairs:
        unlabeled_summary.plot_worst_vs_balanced(
            final, stored, config, os.path.join(workdir, "worst_vs_balanced.png")
        )
    return text


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    print(run_grid(grid_flags.CONFIG.value, grid_flags.WORKDIR.value, grid_flags.REPORT_ONLY.value))


if __name__ == "__main__":
    app.run(main)
