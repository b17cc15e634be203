r"""Top-k teacher labels against dense ones: student accuracy, worst-class accuracy, cache bytes.

  python -m experiments.topk_labels --config=configs/topk_labels.py:local \
      --workdir=results/topk_labels

configs/topk_labels.py describes the grid. Writes WORKDIR/summary.md and summary.json;
every cell's results.json is under WORKDIR/runs/. Resumable: finished cells are stored in
WORKDIR/cells and skipped on a rerun; ``--report_only`` summarizes what is stored.
"""

import collections
import os

from absl import app, flags

from configs.topk_labels import DENSE
from experiments import grid_flags
from tf_robust_distill import pipeline, reporting
from tf_robust_distill.grid import Grid, cell_key, with_overrides
from tf_robust_distill.pipeline.cache_paths import teacher_cache_path
from tf_robust_distill.pipeline.teacher import teacher_config

flags.adopt_module_key_flags(grid_flags)  # --config, --workdir, --report_only in --help
flags.mark_flags_as_required(grid_flags.REQUIRED)

METRICS = ("accuracy", "worst1_accuracy")


def planned_cells(grid):
    """Every (task, labels, temperature, repeat) of the grid, the dense labels first."""
    labels = [DENSE] + [k for k in grid.top_k if k != DENSE]
    return [
        {"task": name, "labels": k, "temperature": temperature, "repeat": repeat}
        for name in grid.tasks
        for temperature in grid.temperatures
        for k in labels
        for repeat in range(grid.repeats)
    ]


def top_k_of(cell):
    """The cell's ``student.teacher_top_k``: None for the dense labels."""
    return None if cell["labels"] == DENSE else cell["labels"]


def overrides(cell, grid):
    """The config changes a cell makes: its task's data, nets and epochs, its labels,
    temperature and student seed."""
    task = grid.tasks[cell["task"]]
    return {
        "dataset.name": task["dataset"],
        "teacher.net_options": {"hidden_sizes": tuple(task["teacher_hidden_sizes"])},
        "student.net_options": {"hidden_sizes": tuple(task["student_hidden_sizes"])},
        "train.epochs": task["epochs"],
        "student.teacher_top_k": top_k_of(cell),
        "student.temperature": cell["temperature"],
        "student.seed": cell["repeat"],
    }


def cell_config(config, cell):
    return with_overrides(config, {**overrides(cell, config.grid), "verbose": 0})


def run_cell(config, cell, workdir):
    """The main job of `cell`; its task's teacher is shared by every cell of the task."""
    settings = cell_config(config, cell)
    teacher_dir = os.path.join(workdir, "runs", "teacher-" + cell_key(teacher_config(settings)))
    results = pipeline.run(
        settings, os.path.join(workdir, "runs", cell_key(cell)), teacher_dir=teacher_dir
    ).results
    cache = teacher_cache_path(teacher_dir, "train", top_k=top_k_of(cell))
    return {
        "teacher": {split: results["teacher"][split] for split in ("val", "test")},
        "student": {split: results["student"][split] for split in ("val", "test")},
        "cache_bytes": os.path.getsize(cache),
        "seconds": results["seconds"],
    }


def summary(records, grid):
    """Markdown: per task and temperature, one row per labels (dense first)."""
    by_arm = collections.defaultdict(dict)
    for cell, result in records:
        arm = (cell["task"], cell["temperature"], cell["labels"])
        by_arm[arm][cell["repeat"]] = result
    lines = [
        "# Top-k teacher labels",
        "",
        "Test metrics, mean ± standard error over student repeats; vs dense: paired with the "
        "dense labels' student of the same seed. Cell seconds: the wall time of a cell's job "
        "(a task's first dense cell also trains its teacher, the first cell of each k computes "
        "its label caches).",
        "",
    ]
    header = (
        "labels",
        "train-cache bytes",
        "/ dense",
        "test accuracy",
        "vs dense",
        "test worst-class accuracy",
        "vs dense",
        "cell seconds",
    )
    for name in grid.tasks:
        for temperature in grid.temperatures:
            dense = by_arm.get((name, temperature, DENSE), {})
            teacher = next(iter(dense.values()), None)
            lines += [f"## {name}, student temperature {temperature:g}", ""]
            if teacher is not None:
                test = teacher["teacher"]["test"]
                lines += [
                    f"Teacher: test accuracy {test['accuracy']:.4f}, worst-class "
                    f"{test['worst1_accuracy']:.4f}.",
                    "",
                ]
            rows = [
                arm_row(by_arm[(name, temperature, labels)], dense, labels)
                for labels in [DENSE] + [k for k in grid.top_k if k != DENSE]
                if (name, temperature, labels) in by_arm
            ]
            lines += [reporting.markdown_rows(header, rows), ""]
    return "\n".join(lines)


def arm_row(results, dense, labels):
    """One row: the arm's cache bytes, its students' test metrics and their paired
    differences from the dense labels' students of the same seeds."""
    repeats = sorted(results)
    dense_bytes = next(iter(dense.values()))["cache_bytes"] if dense else None
    cache_bytes = results[repeats[0]]["cache_bytes"]
    row = [
        "dense" if labels == DENSE else f"top-{labels}",
        f"{cache_bytes:,}",
        "" if dense_bytes is None else f"{cache_bytes / dense_bytes:.3f}",
    ]
    for metric in METRICS:
        values = [results[r]["student"]["test"][metric] for r in repeats]
        row.append(reporting.format_mean(values))
        paired = [r for r in repeats if r in dense]
        row.append(
            reporting.format_difference(
                [results[r]["student"]["test"][metric] for r in paired],
                [dense[r]["student"]["test"][metric] for r in paired],
            )
            if paired and labels != DENSE
            else ""
        )
    row.append(f"{sum(results[r]['seconds'] for r in repeats) / len(repeats):.0f}")
    return row


def run_grid(config, workdir, report_only=False):
    """Run (or only summarize) the grid of `config` in `workdir`; returns the summary."""
    cells = planned_cells(config.grid)
    if not report_only:
        pipeline.job.check_runs([cell_config(config, cell) for cell in cells])
    grid = Grid(workdir, config)
    if not report_only:
        grid.run_all(
            cells,
            lambda cell: run_cell(config, cell, workdir),
            settings=lambda cell: cell_config(config, cell),
        )
    text = summary(grid.records(), config.grid)
    grid.write_summary(text)
    return text


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    print(run_grid(grid_flags.CONFIG.value, grid_flags.WORKDIR.value, grid_flags.REPORT_ONLY.value))


if __name__ == "__main__":
    app.run(main)
