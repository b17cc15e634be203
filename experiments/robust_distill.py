r"""Worst-class robust distillation: the paper's Table 1 and Figure 1 at the configured scale.

  python -m experiments.robust_distill --config=configs/robust_distill.py:fashion_mnist_lt \
      --workdir=results/robust_fashion_mnist_lt

Table 1: every teacher objective x every student objective (post-shift, std-d, bal-d,
rob-d with teacher-labeled and one-hot validation, AdaMargin, AdaAlpha, Group DRO),
students repeated with the teacher fixed; test worst-class accuracy with balanced
accuracy in parentheses, mean ± standard error. Figure 1 / Table 2: the α^t x α^s grid
of trade-off teachers and students, its Pareto front (pareto.png) and the paper's
selection rule: the highest validation worst-class accuracy among the points whose
validation balanced accuracy is at least standard distillation's. Writes
WORKDIR/summary.md, summary.json and pareto.png; resumable (WORKDIR/cells).
"""

import os

from absl import app, flags

from experiments import grid_flags
from tf_robust_distill import pipeline, reporting
from tf_robust_distill.grid import Grid, cell_key, with_overrides

_PARTS = flags.DEFINE_list(
    "parts",
    ["table", "tradeoff"],
    "Which parts of the grid to run: table, tradeoff (two "
    "processes may run one part each on the same workdir).",
)
flags.mark_flags_as_required(grid_flags.REQUIRED)

TEACHER_ROW = "teacher"
NO_STUDENT = {"objective": "none", "validation_labels": "teacher"}


def table_cells(grid):
    for teacher in grid.table_teachers:
        yield {"part": "table", "teacher": teacher, "student": TEACHER_ROW, "repeat": 0}
        for student in grid.table_students:
            for repeat in range(grid.repeats):
                yield {"part": "table", "teacher": teacher, "student": student, "repeat": repeat}


def tradeoff_cells(grid):
    for alpha_t in grid.alphas:
        yield {"part": "tradeoff", "alpha_t": alpha_t, "alpha_s": TEACHER_ROW, "repeat": 0}
        for alpha_s in grid.alphas:
            for repeat in range(grid.tradeoff_repeats):
                yield {"part": "tradeoff", "alpha_t": alpha_t, "alpha_s": alpha_s, "repeat": repeat}


def overrides(cell, grid, chosen_temperature):
    """The config changes a cell makes."""
    if cell["part"] == "table":
        student = grid.students.get(cell["student"], NO_STUDENT)
        values = {
            "teacher.objective": cell["teacher"],
            "student.objective": student["objective"],
            "student.validation_labels": student["validation_labels"],
        }
    else:
        student = cell["alpha_s"]
        values = {
            "teacher.objective": "tdf",
            "teacher.objective_kw": {"alpha": cell["alpha_t"]},
            "student.objective": "none" if student == TEACHER_ROW else "tdf",
            "student.validation_labels": "teacher",
            "student.temperature": grid.tradeoff_temperature,
        }
        if student != TEACHER_ROW:
            values["student.objective_kw"] = {"alpha": student}
    values["student.seed"] = cell["repeat"]
    if chosen_temperature is not None:
        values["student.temperature"] = chosen_temperature
    return values


def teacher_key(values):
    return cell_key({k: v for k, v in values.items() if k.startswith("teacher.")})


def run_cell(config, cell, workdir, chosen_temperature=None):
    values = overrides(cell, config.grid, chosen_temperature)
    cell_config = with_overrides(config, {**values, "verbose": 0})
    results = pipeline.run(
        cell_config,
        os.path.join(workdir, "runs", cell_key(cell)),
        teacher_dir=os.path.join(workdir, "runs", "teacher-" + teacher_key(values)),
    ).results
    return {key: results[key] for key in ("teacher", "student", "seconds") if key in results}


def scores(result, role, split="test"):
    row = result[role][split]
    return row["worst1_accuracy"], row["balanced_accuracy"]


def table(records, grid):
    """Table 1's layout: students as rows, teachers as columns, worst (balanced)."""
    rows = []
    for student in (TEACHER_ROW, *grid.table_students):
        role = "teacher" if student == TEACHER_ROW else "student"
        row = [student if student != TEACHER_ROW else "no distillation (teacher)"]
        for teacher in grid.table_teachers:
            results = [
                r
                for c, r in records
                if c["part"] == "table" and c["teacher"] == teacher and c["student"] == student
            ]
            if not results:
                row.append("not run")
                continue
            worst, balanced = zip(*(scores(r, role) for r in results), strict=True)
            row.append(f"{reporting.format_mean(worst, 3)} ({reporting.format_mean(balanced, 3)})")
        rows.append(row)
    return reporting.markdown_rows(["student \\ teacher", *grid.table_teachers], rows)


def tradeoff_points(records):
    """{(alpha_t, alpha_s): [result, ...]} of the trade-off grid."""
    points = {}
    for cell, result in records:
        if cell["part"] == "tradeoff":
            points.setdefault((cell["alpha_t"], cell["alpha_s"]), []).append(result)
    return points


def mean_scores(results, role, split):
    worst, balanced = zip(*(scores(r, role, split) for r in results), strict=True)
    return sum(worst) / len(worst), sum(balanced) / len(balanced)


def selection(records, points):
    """The paper's rule: best validation worst-class accuracy with validation balanced
    accuracy at least that of standard distillation (std teacher, std-d student)."""
    baseline = [
        r
        for c, r in records
        if c["part"] == "table" and c["teacher"] == "std" and c["student"] == "std-d"
    ]
    if not baseline:
        return None
    floor = mean_scores(baseline, "student", "val")[1]
    eligible = {
        key: mean_scores(results, "student", "val")
        for key, results in points.items()
        if key[1] != TEACHER_ROW and mean_scores(results, "student", "val")[1] >= floor
    }
    if not eligible:
        return None
    return max(eligible, key=lambda key: eligible[key][0])


def tradeoff_summary(records, workdir):
    points = tradeoff_points(records)
    if not points:
        return ""
    rows = []
    for (alpha_t, alpha_s), results in sorted(points.items(), key=str):
        role = "teacher" if alpha_s == TEACHER_ROW else "student"
        worst, balanced = zip(*(scores(r, role) for r in results), strict=True)
        rows.append(
            [alpha_t, alpha_s, reporting.format_mean(worst, 3), reporting.format_mean(balanced, 3)]
        )
    text = "\nTrade-off grid (L^tdf teacher α^t, L^tdf student α^s; test):\n\n"
    text += reporting.markdown_rows(["α^t", "α^s", "worst-class", "balanced"], rows)
    groups = {"teachers": [], "trade-off students (α^t/α^s)": [], "baselines (std teacher)": []}
    for (alpha_t, alpha_s), results in points.items():
        role = "teacher" if alpha_s == TEACHER_ROW else "student"
        worst, balanced = mean_scores(results, role, "test")
        if role == "teacher":
            groups["teachers"].append((balanced, worst, f"α^t={alpha_t}"))
        else:
            groups["trade-off students (α^t/α^s)"].append((balanced, worst, f"{alpha_t}/{alpha_s}"))
    baselines = {}
    for cell, result in records:
        if cell["part"] == "table" and cell["teacher"] == "std" and cell["student"] != TEACHER_ROW:
            baselines.setdefault(cell["student"], []).append(result)
    for student, results in baselines.items():
        worst, balanced = mean_scores(results, "student", "test")
        groups["baselines (std teacher)"].append((balanced, worst, student))
    chosen = selection(records, points)
    selected = None
    if chosen is not None:
        worst, balanced = mean_scores(points[chosen], "student", "test")
        selected = (balanced, worst, f"α^t={chosen[0]}, α^s={chosen[1]}")
        text += (
            f"\nSelected by the paper's rule: α^t = {chosen[0]}, α^s = {chosen[1]}: "
            f"test worst-class {worst:.3f}, balanced {balanced:.3f}.\n"
        )
    reporting.plot_pareto(groups, os.path.join(workdir, "pareto.png"), selected)
    return text


def summary(records, grid, workdir):
    text = (
        "Test worst-class accuracy (balanced accuracy), mean ± standard error "
        "(number of repeats).\n\n"
    ) + table(records, grid)
    return text + tradeoff_summary(records, workdir)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config, workdir = grid_flags.CONFIG.value, grid_flags.WORKDIR.value
    grid = Grid(workdir, config)
    parts = {"table": table_cells, "tradeoff": tradeoff_cells}
    unknown = set(_PARTS.value) - set(parts)
    if unknown:
        raise app.UsageError(f"unknown parts {sorted(unknown)}; choose from {sorted(parts)}")
    planned = [cell for part in _PARTS.value for cell in parts[part](config.grid)]

    def compute(cell):
        chosen = None
        if cell["part"] == "table" and cell["repeat"] > 0:
            chosen = grid.result({**cell, "repeat": 0})["student"]["temperature"]
        return run_cell(config, cell, workdir, chosen)

    if not grid_flags.REPORT_ONLY.value:
        grid.run_all(planned, compute)
    text = summary(grid.records(), config.grid, workdir)
    grid.write_summary(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
