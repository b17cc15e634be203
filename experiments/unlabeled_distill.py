r"""Distillation with unlabeled examples: objectives × labeled sizes × trials × soft/hard labels.

  python -m experiments.unlabeled_distill --config=configs/unlabeled_distill.py:local \
      --workdir=runs/unlabeled

For every size N of the labeled set A a teacher and a student are trained on A once
(stored under WORKDIR/runs/); every trial re-splits the rest into V and U, and every
objective distills a student from the pre-trained one (weighted distillation §3.1.1,
SLaM §4.1). Reports the test accuracy, mean ± standard error over the trials, per
objective and labeled size, for soft and hard distillation: after the last epoch, and
the best over the epochs as SLaM §4.2 does; beside the teacher and the student trained
on A alone. Also compares debiasing weights estimated once with weights re-estimated
during training (weighted paper §3.2, Figure 9). Writes WORKDIR/summary.md,
WORKDIR/summary.json and WORKDIR/accuracy_vs_labeled.png. Each finished cell is stored
under WORKDIR/cells at once; a rerun skips it.
"""

import itertools
import os

import numpy as np
from absl import app, flags

from experiments import grid_flags
from tf_robust_distill import files, precision, reporting
from tf_robust_distill.grid import Grid, cell_key
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline import unlabeled

flags.mark_flags_as_required(grid_flags.REQUIRED)

LABELS = ("soft", "hard")
COMPARISON_LABELS = "soft"
# The objectives with debiasing weights: one per example of the student's training set.
DEBIASED = tuple(
    name
    for name in registry.names(registry.UNLABELED_STUDENT)
    if "num_train_examples" in registry.get(name).derived
)


def _cell(num_labeled, labels, objective, trial, weights_every_n_epochs, temperatures=None):
    cell = {"num_labeled": num_labeled, "labels": labels, "objective": objective, "trial": trial}
    if objective in DEBIASED:
        cell["weights_every_n_epochs"] = weights_every_n_epochs
    if temperatures is not None:
        cell["t_A"], cell["t_B"] = temperatures
    return cell


def in_temperature_ablation(cell):
    return "t_A" in cell


def planned_cells(config):
    """The grid's cells, each once: the main comparison, weights once vs re-estimated, then
    the temperature ablation (pairs t_A, t_B of soft-label temperatures on A and U).

    A comparison cell equal to a main one (``weighted`` with the config's own schedule)
    is the same cell, computed and stored once.
    """
    grid, schedule = config.grid, config.unlabeled.weights_every_n_epochs
    cells = {}
    for num_labeled in grid.num_labeled:
        for labels in grid.labels:
            for objective in grid.objectives:
                for trial in grid.trials:
                    cell = _cell(num_labeled, labels, objective, trial, schedule)
                    cells.setdefault(cell_key(cell), cell)
        for every in grid.weights_schedules:
            for trial in grid.trials:
                cell = _cell(num_labeled, COMPARISON_LABELS, "weighted", trial, every)
                cells.setdefault(cell_key(cell), cell)
    ablation = grid.temperature_ablation
    for num_labeled in ablation.num_labeled:
        for objective in ablation.objectives:
            for pair in itertools.product(ablation.temperatures, repeat=2):
                for trial in grid.trials:
                    cell = _cell(num_labeled, "soft", objective, trial, schedule, pair)
                    cells.setdefault(cell_key(cell), cell)
    return list(cells.values())


def cell_config(config, cell):
    """`config` with the cell's objective (and the options of grid.objective_kw it reads),
    labeled size, trial and labels."""
    config = config.copy_and_resolve_references()
    spec = registry.get(cell["objective"], registry.UNLABELED_STUDENT)
    config.student.objective = cell["objective"]
    config.student.objective_kw = spec.select_options(config.grid.objective_kw.to_dict())
    config.student.hard_labels = cell["labels"] == "hard"
    settings = config.unlabeled
    settings.num_labeled = cell["num_labeled"]
    settings.trial = cell["trial"]
    if "weights_every_n_epochs" in cell:
        settings.weights_every_n_epochs = cell["weights_every_n_epochs"]
    if in_temperature_ablation(cell):
        settings.labeled_temperature, config.student.temperature = cell["t_A"], cell["t_B"]
    return config


def check_grid(config, cells):
    """Raise a ValueError for a bad grid value; reads no data, writes nothing."""
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
    for cell in cells:
        unlabeled.check_settings(cell_config(config, cell))


@precision.keeps_caller_policy
def run_grid(config, workdir, report_only=False):
    """Run (or resume) the grid of `config` in `workdir` and write its summary.

    Every value is checked before anything is trained or written. With `report_only`
    the summary covers the cells already stored and nothing is trained. A teacher and a
    pre-trained student are trained (or loaded) for a labeled size the first time one
    of its cells needs computing.

    Returns:
      the markdown summary.
    """
    cells = planned_cells(config)
    check_grid(config, cells)
    context = unlabeled.prepare(config, config.grid.num_labeled)
    grid, stages, records = Grid(workdir, config), {}, []

    def compute(trial_config):
        num_labeled = trial_config.unlabeled.num_labeled
        if num_labeled not in stages:
            runs = os.path.join(workdir, "runs")
            stages[num_labeled] = unlabeled.labeled_stage(trial_config, context, runs)
        return unlabeled.run_trial(trial_config, context, stages[num_labeled])

    for number, cell in enumerate(cells, 1):
        if report_only:
            if grid.done(cell):
                records.append((cell, grid.result(cell)))
            continue
        print(f"[{number}/{len(cells)}] {cell}", flush=True)
        trial_config = cell_config(config, cell)
        records.append(
            (
                cell,
                grid.run(
                    cell, lambda trial_config=trial_config: compute(trial_config), trial_config
                ),
            )
        )
    text = summary(records, config)
    files.write_text(text, os.path.join(workdir, "summary.md"))
    reporting.write_json(
        [{"cell": c, "result": r} for c, r in records], os.path.join(workdir, "summary.json")
    )
    plot_accuracy_vs_labeled(records, config, os.path.join(workdir, "accuracy_vs_labeled.png"))
    return text


def method_name(objective, weights_every_n_epochs=None):
    """A row's name: the objective, and for debiased ones when the weights are estimated."""
    if objective not in DEBIASED:
        return objective
    if weights_every_n_epochs is None:
        return f"{objective} (weights once)"
    if weights_every_n_epochs == 1:
        return f"{objective} (weights every epoch)"
    return f"{objective} (weights every {weights_every_n_epochs} epochs)"


def final_accuracy(result):
    return result["student"]["test"]["accuracy"]


def best_accuracy(result):
    return result["best_test_accuracy"]


def grouped(records, value):
    """{(labels, method): {num_labeled: [value(result) per trial]}}."""
    groups = {}
    for cell, result in records:
        method = method_name(cell["objective"], cell.get("weights_every_n_epochs"))
        by_size = groups.setdefault((cell["labels"], method), {})
        by_size.setdefault(cell["num_labeled"], []).append(value(result))
    return groups


def reference_accuracies(records, value):
    """{num_labeled: value(result)} from the first cell of each size (teacher, student on A)."""
    references = {}
    for cell, result in records:
        references.setdefault(cell["num_labeled"], value(result))
    return references


REFERENCES = (
    ("teacher", lambda result: result["teacher"]["test"]["accuracy"]),
    ("student on A", lambda result: result["pretrained_student"]["test"]["accuracy"]),
)


def main_methods(config):
    """The rows of the main tables, in the grid's order of objectives."""
    return [
        method_name(objective, config.unlabeled.weights_every_n_epochs)
        for objective in config.grid.objectives
    ]


def accuracy_table(records, config, labels, methods, value):
    """Markdown: teacher, pre-trained student and `methods` × labeled sizes, in %."""
    sizes = config.grid.num_labeled
    rows = []
    for name, reference in REFERENCES:
        accuracies = reference_accuracies(records, reference)
        rows.append(
            [name, *(f"{100 * accuracies[n]:.2f}" if n in accuracies else "" for n in sizes)]
        )
    groups = grouped(records, value)
    for method in methods:
        by_size = groups.get((labels, method), {})
        rows.append(
            [
                method,
                *(
                    reporting.format_mean([100 * v for v in by_size[n]], digits=2)
                    if n in by_size
                    else ""
                    for n in sizes
                ),
            ]
        )
    return reporting.markdown_rows(["method", *(str(n) for n in sizes)], rows)


def temperature_ablation_table(records, config):
    """SLaM App. D.5: per labeled size and method, the best (t_A, t_B) pair by mean test
    accuracy over trials (the paper reports the best pair), beside true labels on A and
    t_B = 1 (the main grid's soft cells)."""
    ablation = config.grid.temperature_ablation
    means = {}
    for cell, result in records:
        if in_temperature_ablation(cell):
            key = (cell["num_labeled"], cell["objective"], cell["t_A"], cell["t_B"])
            means.setdefault(key, []).append(100 * final_accuracy(result))
    default = grouped(
        [(cell, result) for cell, result in records if not in_temperature_ablation(cell)],
        final_accuracy,
    )
    rows = []
    for num_labeled in ablation.num_labeled:
        for objective in ablation.objectives:
            pairs = {
                key[2:]: values
                for key, values in means.items()
                if key[:2] == (num_labeled, objective)
            }
            reference = default.get(("soft", method_name(objective)), {}).get(num_labeled)
            best = max(pairs, key=lambda pair: np.mean(pairs[pair])) if pairs else None
            rows.append(
                [
                    str(num_labeled),
                    objective,
                    reporting.format_mean([100 * v for v in reference], digits=2)
                    if reference
                    else "",
                    reporting.format_mean(pairs[best], digits=2) if best else "",
                    f"{best[0]:g}, {best[1]:g}" if best else "",
                    f"{len(pairs)} of {len(ablation.temperatures) ** 2}",
                ]
            )
    header = [
        "labeled",
        "method",
        "true labels on A, t_B = 1",
        "best (t_A, t_B)",
        "t_A, t_B",
        "pairs run",
    ]
    return reporting.markdown_rows(header, rows)


def summary(records, config):
    """Markdown tables of the stored cells: test accuracy (%) per method and labeled size."""
    ablation = [(cell, result) for cell, result in records if in_temperature_ablation(cell)]
    records = [(cell, result) for cell, result in records if not in_temperature_ablation(cell)]
    methods = main_methods(config)
    comparison = [method_name("weighted", every) for every in config.grid.weights_schedules]
    sections = [
        "Test accuracy (%), mean ± standard error (number of trials); teacher and student on A "
        "are trained once per labeled size.\n"
    ]
    for title, value in (("after the last epoch", final_accuracy), ("best epoch", best_accuracy)):
        for labels in config.grid.labels:
            sections.append(f"\n## {labels} labels, {title}\n\n")
            sections.append(accuracy_table(records, config, labels, methods, value))
    sections.append(
        f"\n## Debiasing weights estimated once vs during training "
        f"(weighted paper Figure 9), {COMPARISON_LABELS} labels, after the last epoch\n\n"
    )
    sections.append(accuracy_table(records, config, COMPARISON_LABELS, comparison, final_accuracy))
    if config.grid.temperature_ablation.num_labeled:
        sections.append(
            "\n## Temperature ablation (SLaM App. D.5, Figure 6): soft labels at t_A on A and "
            "t_B on U, best pair by mean test accuracy after the last epoch\n\n"
        )
        sections.append(temperature_ablation_table(records + ablation, config))
    return "".join(sections)


def plot_accuracy_vs_labeled(records, config, path):
    """Test accuracy (%) after the last epoch vs the size of A, one panel per kind of labels."""
    records = [(cell, result) for cell, result in records if not in_temperature_ablation(cell)]
    groups = grouped(records, lambda result: 100 * final_accuracy(result))
    panels = {
        f"{labels} labels": {
            method: groups.get((labels, method), {}) for method in main_methods(config)
        }
        for labels in config.grid.labels
    }
    references = {
        name: {n: 100 * value for n, value in reference_accuracies(records, reference).items()}
        for name, reference in REFERENCES
    }
    reporting.plot_accuracy_vs_labeled(
        panels,
        path,
        references,
        title=f"Distillation with unlabeled examples on {config.dataset.name}",
        xlabel="labeled examples (size of A)",
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    print(run_grid(grid_flags.CONFIG.value, grid_flags.WORKDIR.value, grid_flags.REPORT_ONLY.value))


if __name__ == "__main__":
    app.run(main)
