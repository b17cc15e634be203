r"""SoTeacher experiments: teachers (standard, SoTeacher, no-LR, no-CR) and their KD students.

  python -m experiments.soteacher --config=configs/soteacher.py:local --workdir=runs/soteacher

Reports, mean ± standard error over seeds (SoTeacher Tables 1-4 and Figure 2):
teacher and student test accuracy, teacher ECE and NLL before and after temperature
scaling (T fitted on the validation half), student-teacher agreement on the test half,
and the sweep of λ_LR, λ_CR^max and the λ_CR schedule. Writes WORKDIR/summary.md,
summary.json and, per teacher objective, reliability_<teacher>.png: reliability diagrams
of the teacher's test predictions before and after temperature scaling, pooled over the
seeds (SoTeacher Figure 2 in spirit). Every cell's full results.json is under
WORKDIR/runs/. Resumable.
"""

import os

from absl import app, flags

from configs import soteacher as soteacher_config
from experiments import config_help, grid_flags
from tf_robust_distill import estimators, pipeline, reporting
from tf_robust_distill.grid import Grid, cell_key
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline.teacher import teacher_config

__doc__ += "\n" + config_help.fields_help(soteacher_config)
flags.adopt_module_key_flags(grid_flags)  # --config, --workdir, --report_only in --help

flags.mark_flags_as_required(grid_flags.REQUIRED)

# grid field -> (the key of its cells, the SoTeacher option it sweeps)
SWEEPS = {
    "lipschitz_weights": ("lipschitz_weight", "lipschitz_weight"),
    "consistency_weights": ("consistency_weight_max", "consistency_weight_max"),
    "schedules": ("consistency_schedule", "schedule"),
}


# teachers whose ℓ_LR is on, so that the form of its convolution term matters
LIPSCHITZ_TEACHERS = ("soteacher", "soteacher_no_cr")


def arms(grid, teacher):
    """{cell key: value} of the main comparison's arms of `teacher`: the form of the Lipschitz
    convolution term (``grid.lipschitz_convolutions``, for teachers with ℓ_LR) times the
    student's online or cached teacher (``grid.online_teachers``); an empty field adds no key."""
    convolutions = grid.lipschitz_convolutions if teacher in LIPSCHITZ_TEACHERS else ()
    for convolution in convolutions or (None,):
        for online in grid.online_teachers or (None,):
            arm = {"lipschitz_convolution": convolution, "online_teacher": online}
            yield {key: value for key, value in arm.items() if value is not None}


def arm_name(cell):
    """The teacher and its arm, e.g. ``soteacher entrywise online``."""
    words = [cell["teacher"], cell.get("lipschitz_convolution")]
    if "online_teacher" in cell:
        words.append("online" if cell["online_teacher"] else "cached")
    return " ".join(word for word in words if word)


def cells(grid):
    """The main comparison over seeds and arms, then one-at-a-time sweeps of SoTeacher (seed 0)."""
    for teacher in grid.teachers:
        for arm in arms(grid, teacher):
            for seed in grid.seeds:
                yield {"part": "main", "teacher": teacher, **arm, "seed": seed}
    for values, (key, _) in SWEEPS.items():
        for value in grid[values]:
            yield {"part": "sweep", "teacher": "soteacher", key: value, "seed": grid.seeds[0]}


def cell_config(config, cell):
    """`config` with the cell's seed, teacher objective and arm; the objective takes the
    options of ``teacher.objective_kw`` it reads, and the cell's swept value."""
    config = config.copy_and_resolve_references()
    config.seed = cell["seed"]
    config.verbose = 0
    spec = registry.get(cell["teacher"], registry.TEACHER)
    objective_kw = spec.select_options(config.teacher.objective_kw.to_dict())
    for key, option in SWEEPS.values():
        if key in cell:
            objective_kw[option] = cell[key]
    if "lipschitz_convolution" in cell:
        objective_kw["lipschitz_convolution"] = cell["lipschitz_convolution"]
    if "online_teacher" in cell:
        config.student.online_teacher = cell["online_teacher"]
    config.teacher.objective = cell["teacher"]
    config.teacher.objective_kw = objective_kw
    return config


def run_cell(config, cell, workdir):
    config = cell_config(config, cell)
    # Cells whose teachers are trained alike (e.g. cached and online students) share one.
    teacher_dir = os.path.join(workdir, "runs", "teacher-" + cell_key(teacher_config(config)))
    job = pipeline.run(
        config, os.path.join(workdir, "runs", cell_key(cell)), teacher_dir=teacher_dir
    )
    stored = {key: job.results[key] for key in ("teacher", "student", "agreement", "seconds")}
    stored["teacher_reliability"] = teacher_reliability(
        job.context, job.results["teacher"]["scaling_temperature"]
    )
    return stored


def teacher_reliability(context, temperature):
    """Reliability-diagram bins of the teacher's test predictions, before and after scaling.

    From the teacher's test logits the job returns; `temperature` is the one the job
    fitted on the validation half (SoTeacher Table 3).
    """
    logits = context.teacher_labels["test"].logits
    return {
        when: reporting.reliability_bins(
            context.splits.test_labels, estimators.apply_temperature(logits, scale)
        )
        for when, scale in (("before", 1.0), ("after", temperature))
    }


def write_reliability_plots(records, grid, workdir):
    """reliability_<teacher>.png per teacher objective of the main comparison, its seeds pooled.

    Cells stored without reliability bins (by an earlier version) are left out.

    Returns:
      the file names written.
    """
    names = []
    for teacher in grid.teachers:
        bins = [
            result["teacher_reliability"]
            for cell, result in records
            if cell["part"] == "main"
            and cell["teacher"] == teacher
            and "teacher_reliability" in result
        ]
        if not bins:
            continue
        pooled = {
            when: {
                key: [sum(values) for values in zip(*(b[when][key] for b in bins), strict=True)]
                for key in bins[0][when]
            }
            for when in ("before", "after")
        }
        name = f"reliability_{teacher}.png"
        reporting.plot_reliability(
            {
                "before temperature scaling": pooled["before"],
                "after temperature scaling": pooled["after"],
            },
            os.path.join(workdir, name),
            title=f"{teacher} teacher, test half, {len(bins)} seed(s) pooled",
        )
        names.append(name)
    return names


def _values(records, path):
    values = []
    for result in records:
        value = result
        for key in path:
            value = value[key]
        values.append(value)
    return values


COLUMNS = (
    ("teacher acc", ("teacher", "test", "accuracy")),
    ("student acc", ("student", "test", "accuracy")),
    ("teacher ECE", ("teacher", "test", "ece")),
    ("teacher ECE (TS)", ("teacher", "test", "ece_after_scaling")),
    ("teacher NLL", ("teacher", "test", "nll")),
    ("teacher NLL (TS)", ("teacher", "test", "nll_after_scaling")),
    ("agreement", ("agreement", "test")),
)


def summary(records, grid):
    """Markdown tables of the main comparison and the sweeps, from the stored cells."""
    header = ["teacher", *(name for name, _ in COLUMNS)]
    names = [arm_name({"teacher": t, **arm}) for t in grid.teachers for arm in arms(grid, t)]
    main = [
        [name, *(reporting.format_mean(_values(results, path)) for _, path in COLUMNS)]
        for name in names
        if (results := [r for c, r in records if c["part"] == "main" and arm_name(c) == name])
    ]
    sweep = []
    for values, (key, _) in SWEEPS.items():
        for value in grid[values]:
            results = [r for c, r in records if c.get(key) == value]
            if results:
                sweep.append([f"{key} = {value}", *(f"{v:.4f}" for v in _row(results[0]))])
    text = "Mean ± standard error (number of seeds) on the test half; TS: after temperature "
    text += "scaling.\n\n" + reporting.markdown_rows(header, main)
    paired = paired_rows(records, names)
    if paired:
        text += (
            "\nPaired differences over seeds (the same seed's teacher and student in both "
            "arms), mean ± standard error (pairs), p of the paired t-test:\n\n"
        )
        text += reporting.markdown_rows(["difference", *header[1:]], paired)
    if sweep:
        text += "\nSoTeacher, one hyper-parameter changed at a time (seed 0):\n\n"
        text += reporting.markdown_rows(["setting", *header[1:]], sweep)
    return text


def baseline_arms(name, names):
    """The arms `name` is compared with: the standard teacher's arm of the same student
    labels (cached or online), and for an online arm its cached twin."""
    words = name.split(" ")
    labels = [word for word in words if word in ("cached", "online")]
    if words[0] != "std":
        standard = " ".join(["std", *labels])
        if standard in names:
            yield standard
    if labels == ["online"]:
        cached = " ".join([*words[:-1], "cached"])
        if cached in names:
            yield cached


def paired_rows(records, names):
    """Rows 'a − b' of every arm against `baseline_arms`, per column, paired by seed."""
    by_seed = {}
    for cell, result in records:
        if cell["part"] == "main":
            by_seed.setdefault(arm_name(cell), {})[cell["seed"]] = result
    rows = []
    for name in names:
        for baseline in baseline_arms(name, names):
            a, b = by_seed.get(name, {}), by_seed.get(baseline, {})
            seeds = sorted(set(a) & set(b))
            if len(seeds) < 2:
                continue
            rows.append(
                [
                    f"{name} − {baseline}",
                    *(
                        reporting.format_paired_test(
                            _values([a[s] for s in seeds], path),
                            _values([b[s] for s in seeds], path),
                            digits=4,
                        )
                        for _, path in COLUMNS
                    ),
                ]
            )
    return rows


def _row(result):
    return [_values([result], path)[0] for _, path in COLUMNS]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config, workdir = grid_flags.CONFIG.value, grid_flags.WORKDIR.value
    planned = list(cells(config.grid))
    if not grid_flags.REPORT_ONLY.value:
        # Every cell checked before anything trains or is written.
        pipeline.job.check_runs([cell_config(config, cell) for cell in planned])
    grid = Grid(workdir, config)
    if not grid_flags.REPORT_ONLY.value:
        grid.run_all(
            planned,
            lambda cell: run_cell(config, cell, workdir),
            settings=lambda cell: cell_config(config, cell),
        )
    records = grid.records()
    text = summary(records, config.grid)
    plots = write_reliability_plots(records, config.grid, workdir)
    if plots:
        text += "\nReliability diagrams of the teachers (test half): " + ", ".join(plots) + "\n"
    grid.write_summary(text)
    print(text)


if __name__ == "__main__":
    app.run(main)
