r"""Worst-class robust distillation: the paper's Table 1 and Figure 1 at the configured scale.

  python -m experiments.robust_distill --config=configs/robust_distill.py:fashion_mnist_lt \
      --workdir=results/robust_fashion_mnist_lt

Parts (``--parts``; two processes may run different parts on one workdir):
  table             every teacher objective (each of grid.teacher_seeds) x every student
                    (grid.repeats seeds per teacher), and the baselines trained without
                    distillation (the paper's Group DRO "with vali", and "no vali").
  tradeoff          the α^t x α^s grid of L^tdf teachers and students, for each teacher
                    seed and each validation labeling of grid.tradeoff_validation_labels.
  dro_update_every  the sensitivity of the rob teacher and rob-d students to the interval
                    of the multiplier updates (grid.dro_update_every_values; None: every
                    epoch).

Every cell records its teacher's seed (``teacher_seed``) and is stored under WORKDIR/cells
once finished; a rerun skips it, and ``--report_only`` summarizes what is stored. A
student's temperature is chosen on its first repeat with each teacher and reused by the
other repeats with that teacher. Writes WORKDIR/summary.md, summary.json and one Pareto
plot per validation labeling (pareto_<labels>_val.png).
"""

import os

from absl import app, flags

from configs import robust_distill as robust_config
from experiments import config_help, grid_flags
from experiments.robust_distill_summary import TEACHER_ROW, check_records, summary
from tf_robust_distill import pipeline
from tf_robust_distill.grid import Grid, cell_key, with_overrides
from tf_robust_distill.pipeline.teacher import teacher_config

__doc__ += "\n" + config_help.fields_help(robust_config)
flags.adopt_module_key_flags(grid_flags)  # --config, --workdir, --report_only in --help

NO_STUDENT = {"objective": "none", "validation_labels": "one_hot"}


def student_cells(base, students, repeats):
    """The teacher row of `base` (a teacher and its seed), then its students' repeats."""
    yield {**base, "student": TEACHER_ROW, "repeat": 0}
    for student in students:
        for repeat in range(repeats):
            yield {**base, "student": student, "repeat": repeat}


def table_cells(grid):
    for teacher in grid.table_teachers:
        for seed in grid.teacher_seeds:
            base = {"part": "table", "teacher": teacher, "teacher_seed": seed}
            yield from student_cells(base, grid.table_students, grid.repeats)
    for baseline in grid.baselines:
        for seed in grid.teacher_seeds:
            base = {"part": "table", "teacher": baseline, "teacher_seed": seed}
            yield from student_cells(base, (), 0)


def tradeoff_cells(grid):
    for alpha_t in grid.alphas:
        for seed in grid.teacher_seeds:
            yield {
                "part": "tradeoff",
                "alpha_t": alpha_t,
                "alpha_s": TEACHER_ROW,
                "teacher_seed": seed,
                "repeat": 0,
            }
    for labels in grid.tradeoff_validation_labels:
        for alpha_t in grid.alphas:
            for seed in grid.teacher_seeds:
                for alpha_s in grid.alphas:
                    for repeat in range(grid.tradeoff_repeats):
                        yield {
                            "part": "tradeoff",
                            "validation_labels": labels,
                            "alpha_t": alpha_t,
                            "alpha_s": alpha_s,
                            "teacher_seed": seed,
                            "repeat": repeat,
                        }


def dro_update_every_cells(grid):
    for every in grid.dro_update_every_values:
        for seed in grid.teacher_seeds:
            base = {
                "part": "dro_update_every",
                "dro_update_every": every,
                "teacher": grid.dro_teacher,
                "teacher_seed": seed,
            }
            yield from student_cells(base, grid.dro_students, grid.repeats)


CELLS = {
    "table": table_cells,
    "tradeoff": tradeoff_cells,
    "dro_update_every": dro_update_every_cells,
}
_PARTS = flags.DEFINE_list(
    "parts",
    ["table", "tradeoff"],
    f"Which parts of the grid to run: {', '.join(CELLS)} (two processes may run one part "
    "each on the same workdir).",
)
flags.mark_flags_as_required(grid_flags.REQUIRED)


def student_of(cell):
    """The cell's student: a Table 1 name, an α^s, or TEACHER_ROW."""
    return cell["alpha_s"] if cell["part"] == "tradeoff" else cell["student"]


def overrides(cell, grid, chosen_temperature):
    """The config changes a cell makes."""
    if cell["part"] == "tradeoff":
        values = {"teacher.objective": "tdf", "teacher.objective_kw": {"alpha": cell["alpha_t"]}}
        if cell["alpha_s"] == TEACHER_ROW:
            values["student.objective"] = NO_STUDENT["objective"]
        else:
            values["student.objective"] = "tdf"
            values["student.objective_kw"] = {"alpha": cell["alpha_s"]}
            values["student.validation_labels"] = cell["validation_labels"]
    else:
        teacher = grid.teachers[cell["teacher"]]
        student = grid.students.get(cell["student"], NO_STUDENT)
        values = {
            "teacher.objective": teacher["objective"],
            "teacher.objective_kw": dict(teacher["objective_kw"]),
            "student.objective": student["objective"],
            "student.validation_labels": student["validation_labels"],
        }
    if cell["part"] == "dro_update_every":
        values["teacher.dro_update_every"] = cell["dro_update_every"]
        values["student.dro_update_every"] = cell["dro_update_every"]
    values["teacher.seed"] = cell["teacher_seed"]
    values["student.seed"] = cell["repeat"]
    if chosen_temperature is not None:
        values["student.temperature"] = chosen_temperature
    return values


def check_cells(config, cells):
    """Refuse a bad cell before anything trains or is written: a teacher or student name
    the grid does not define, or a config `pipeline.job` would refuse (e.g. a trade-off
    temperature), checked against the data for every cell."""
    grid = config.grid
    named = [cell for cell in cells if cell["part"] != "tradeoff"]
    for kind, names, defined in (
        ("teacher", {cell["teacher"] for cell in named}, grid.teachers),
        ("student", {student_of(cell) for cell in named} - {TEACHER_ROW}, grid.students),
    ):
        unknown = sorted(names - set(defined))
        if unknown:
            raise ValueError(
                f"the grid names {kind}s {unknown} that grid.{kind}s does not define; it "
                f"defines {sorted(defined)}"
            )
    pipeline.job.check_runs([with_overrides(config, overrides(cell, grid, None)) for cell in cells])


def run_cell(config, cell, workdir, chosen_temperature=None):
    values = overrides(cell, config.grid, chosen_temperature)
    cell_config = with_overrides(config, {**values, "verbose": 0})
    # Cells whose teachers are trained alike share one teacher directory.
    teacher_dir = "teacher-" + cell_key(teacher_config(cell_config))
    results = pipeline.run(
        cell_config,
        os.path.join(workdir, "runs", cell_key(cell)),
        teacher_dir=os.path.join(workdir, "runs", teacher_dir),
    ).results
    return {key: results[key] for key in ("teacher", "student", "seconds") if key in results}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config, workdir = grid_flags.CONFIG.value, grid_flags.WORKDIR.value
    unknown = set(_PARTS.value) - set(CELLS)
    if unknown:
        raise app.UsageError(f"unknown parts {sorted(unknown)}; choose from {list(CELLS)}")
    planned = [cell for part in _PARTS.value for cell in CELLS[part](config.grid)]
    if not grid_flags.REPORT_ONLY.value:
        check_cells(config, planned)
    grid = Grid(workdir, config)
    check_records(grid.records())

    def compute(cell):
        chosen = None
        if student_of(cell) != TEACHER_ROW and cell["repeat"] > 0:
            chosen = grid.result({**cell, "repeat": 0})["student"]["temperature"]
        return run_cell(config, cell, workdir, chosen)

    if not grid_flags.REPORT_ONLY.value:
        grid.run_all(
            planned,
            compute,
            settings=lambda cell: with_overrides(config, overrides(cell, config.grid, None)),
        )
    text = summary(grid.records(), config.grid, workdir)
    grid.write_summary(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
