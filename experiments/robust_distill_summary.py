"""The summary of the robust distillation grid: Table 1, the baselines without
distillation, paired differences, the trade-off grid with the paper's selection rule
(Table 2 and the Pareto plot), and the multiplier-update sensitivity.

Every number is a mean ± standard error over all stored repeats (teacher seeds x student
seeds); a partial grid is summarized as far as it is stored ("not run" elsewhere).
"""

import math
import os

from tf_robust_distill import reporting
from tf_robust_distill.pipeline.selection import NoEligibleCandidate, select

TEACHER_ROW = "teacher"
# The std teacher and its std-d student: the floor of the selection rule.
STANDARD_DISTILLATION = ("std", "std-d")
BASELINES = "baselines (std teacher's students, models without distillation)"


def check_records(records):
    """Refuse cells stored before repeated teachers (they have no ``teacher_seed``)."""
    old = [cell for cell, _ in records if "teacher_seed" not in cell]
    if old:
        raise ValueError(
            f"{len(old)} stored cells have no 'teacher_seed': they come from the grid "
            "before repeated teachers and cannot be summarized with it; use a new workdir "
            f"(first: {old[0]})."
        )


def scores(result, role, split="test"):
    row = result[role][split]
    return row["worst1_accuracy"], row["balanced_accuracy"]


def role_of(student):
    return "teacher" if student == TEACHER_ROW else "student"


def arm(records, part, **fields):
    """{(teacher_seed, repeat): result} of the stored cells of `part` matching `fields`."""
    return {
        (cell["teacher_seed"], cell["repeat"]): result
        for cell, result in records
        if cell["part"] == part and all(cell.get(k) == v for k, v in fields.items())
    }


def mean_scores(results, role, split):
    worst, balanced = zip(*(scores(r, role, split) for r in results), strict=True)
    return sum(worst) / len(worst), sum(balanced) / len(balanced)


def formatted(results, role):
    """'worst (balanced)' on test, each mean ± standard error (n), or 'not run'."""
    if not results:
        return "not run"
    worst, balanced = zip(*(scores(r, role) for r in results), strict=True)
    return f"{reporting.format_mean(worst, 3)} ({reporting.format_mean(balanced, 3)})"


def table(records, grid):
    """Table 1's layout: students as rows, teachers as columns, worst (balanced)."""
    rows = []
    for student in (TEACHER_ROW, *grid.table_students):
        label = "no distillation (teacher)" if student == TEACHER_ROW else student
        cells = [
            formatted(
                list(arm(records, "table", teacher=t, student=student).values()), role_of(student)
            )
            for t in grid.table_teachers
        ]
        rows.append([label, *cells])
    return reporting.markdown_rows(["student \\ teacher", *grid.table_teachers], rows)


def baselines_table(records, grid):
    rows = [
        [
            name,
            formatted(
                list(arm(records, "table", teacher=name, student=TEACHER_ROW).values()), "teacher"
            ),
        ]
        for name in grid.baselines
    ]
    return reporting.markdown_rows(["trained without distillation", "worst (balanced)"], rows)


def paired_table(records, grid):
    """Paired differences (arm a − arm b) over the (teacher seed, student seed) pairs both
    arms have stored."""
    rows = []
    for teacher_a, student_a, teacher_b, student_b in grid.comparisons:
        a = arm(records, "table", teacher=teacher_a, student=student_a)
        b = arm(records, "table", teacher=teacher_b, student=student_b)
        pairs = sorted(set(a) & set(b))
        label = f"{teacher_a}/{student_a} − {teacher_b}/{student_b}"
        if not pairs:
            rows.append([label, "not run", "not run"])
            continue
        columns = []
        for index in (0, 1):
            values = [scores(a[p], role_of(student_a))[index] for p in pairs]
            baseline = [scores(b[p], role_of(student_b))[index] for p in pairs]
            columns.append(reporting.format_difference(values, baseline))
        rows.append([label, *columns])
    return reporting.markdown_rows(["difference (test)", "worst-class", "balanced"], rows)


def tradeoff_points(records, labels):
    """{(alpha_t, alpha_s): [result, ...]}: the teachers, and the students validated with
    `labels`."""
    points = {}
    for cell, result in records:
        if cell["part"] == "tradeoff" and cell.get("validation_labels", labels) == labels:
            points.setdefault((cell["alpha_t"], cell["alpha_s"]), []).append(result)
    return points


def selection(records, points):
    """The paper's rule (`pipeline.selection.select` with a floor): best validation
    worst-class accuracy with validation balanced accuracy at least that of standard
    distillation (std teacher, std-d student); None before those runs exist."""
    teacher, student = STANDARD_DISTILLATION
    baseline = list(arm(records, "table", teacher=teacher, student=student).values())
    students = {
        key: mean_scores(results, "student", "val")
        for key, results in points.items()
        if key[1] != TEACHER_ROW
    }
    if not baseline or not students:
        return None

    def validation_scores(candidate):
        worst, balanced = students.get(
            (candidate["alpha_t"], candidate["alpha_s"]), (math.nan, math.nan)
        )
        return {"worst1_accuracy": worst, "balanced_accuracy": balanced}

    options = {
        "alpha_t": sorted({key[0] for key in students}),
        "alpha_s": sorted({key[1] for key in students}),
    }
    floor = ("balanced_accuracy", mean_scores(baseline, "student", "val")[1])
    try:
        record = select("α^t, α^s", options, validation_scores, "worst1_accuracy", floor=floor)
    except NoEligibleCandidate:
        return None
    return record["winner"]["alpha_t"], record["winner"]["alpha_s"]


def comparison_rows(records, grid):
    """Table 2's other rows: the std teacher's students and the baselines without
    distillation, {label: ({(teacher seed, repeat): result}, role to read)}."""
    rows = {}
    for student in grid.table_students:
        results = arm(records, "table", teacher="std", student=student)
        if results:
            rows[student] = (results, "student")
    for name in grid.baselines:
        results = arm(records, "table", teacher=name, student=TEACHER_ROW)
        if results:
            rows[name] = (results, "teacher")
    return rows


def selected_differences(records, chosen, labels, rows):
    """Rows 'selected − baseline' (worst-class, balanced) paired by teacher seed: the
    selected trade-off student of each seed against the baseline's first student seed."""
    selected = arm(
        records, "tradeoff", alpha_t=chosen[0], alpha_s=chosen[1], validation_labels=labels
    )
    table = []
    for label, (results, role) in rows.items():
        pairs = sorted(key for key in selected if (key[0], 0) in results)
        if len(pairs) < 2:
            continue
        columns = [
            reporting.format_difference(
                [scores(selected[key], "student")[index] for key in pairs],
                [scores(results[key[0], 0], role)[index] for key in pairs],
            )
            for index in (0, 1)
        ]
        table.append([f"selected − {label}", *columns])
    return table


def tradeoff_summary(records, grid, workdir, labels):
    points = tradeoff_points(records, labels)
    if not any(key[1] != TEACHER_ROW for key in points):
        return ""
    rows = [
        [alpha_t, alpha_s, formatted(results, role_of(alpha_s))]
        for (alpha_t, alpha_s), results in sorted(points.items(), key=str)
    ]
    text = f"\nTrade-off grid, {labels} validation labels (test, worst (balanced)):\n\n"
    text += reporting.markdown_rows(["α^t", "α^s", "worst (balanced)"], rows)
    groups = {"teachers": [], "trade-off students (α^t/α^s)": [], BASELINES: []}
    for (alpha_t, alpha_s), results in points.items():
        worst, balanced = mean_scores(results, role_of(alpha_s), "test")
        if alpha_s == TEACHER_ROW:
            groups["teachers"].append((balanced, worst, f"α^t={alpha_t}"))
        else:
            groups["trade-off students (α^t/α^s)"].append((balanced, worst, f"{alpha_t}/{alpha_s}"))
    table2 = []
    chosen = selection(records, points)
    selected = None
    if chosen is not None:
        worst, balanced = mean_scores(points[chosen], "student", "test")
        selected = (balanced, worst, f"α^t={chosen[0]}, α^s={chosen[1]}")
        table2.append(
            [f"selected α^t = {chosen[0]}, α^s = {chosen[1]}", formatted(points[chosen], "student")]
        )
    rows = comparison_rows(records, grid)
    for label, (results, role) in rows.items():
        worst, balanced = mean_scores(list(results.values()), role, "test")
        groups[BASELINES].append((balanced, worst, label))
        table2.append([label, formatted(list(results.values()), role)])
    text += f"\nTable 2 ({labels} validation labels; selection rule on validation):\n\n"
    text += reporting.markdown_rows(["", "worst (balanced)"], table2)
    differences = [] if chosen is None else selected_differences(records, chosen, labels, rows)
    if differences:
        text += "\nThe selected student against Table 2's rows, paired by teacher seed (test):\n\n"
        text += reporting.markdown_rows(["difference", "worst-class", "balanced"], differences)
    reporting.plot_pareto(groups, os.path.join(workdir, f"pareto_{labels}_val.png"), selected)
    return text


def dro_update_summary(records, grid):
    rows = []
    for every in grid.dro_update_every_values:
        name = interval_name(every)
        for student in (TEACHER_ROW, *grid.dro_students):
            results = arm(records, "dro_update_every", dro_update_every=every, student=student)
            if results:
                label = f"{grid.dro_teacher} teacher" if student == TEACHER_ROW else student
                rows.append([name, label, formatted(list(results.values()), role_of(student))])
    if not rows:
        return ""
    text = "\nMultiplier updates (λ-step interval; test, worst (balanced)):\n\n"
    text += reporting.markdown_rows(["λ updated", "model", "worst (balanced)"], rows)
    return text + dro_update_differences(records, grid)


def interval_name(every):
    return "every epoch" if every is None else f"every {every} steps"


def dro_update_differences(records, grid):
    """Paired differences of each λ-step interval from grid.dro_update_every_reference,
    over the (teacher seed, student seed) pairs both have, with the paired t-test."""
    reference = grid.dro_update_every_reference
    rows = []
    for every in grid.dro_update_every_values:
        if every == reference:
            continue
        for student in (TEACHER_ROW, *grid.dro_students):
            a = arm(records, "dro_update_every", dro_update_every=every, student=student)
            b = arm(records, "dro_update_every", dro_update_every=reference, student=student)
            pairs = sorted(set(a) & set(b))
            if len(pairs) < 2:
                continue
            role = role_of(student)
            columns = [
                reporting.format_paired_test(
                    [scores(a[p], role)[index] for p in pairs],
                    [scores(b[p], role)[index] for p in pairs],
                )
                for index in (0, 1)
            ]
            label = f"{grid.dro_teacher} teacher" if student == TEACHER_ROW else student
            rows.append([f"{interval_name(every)} − {interval_name(reference)}", label, *columns])
    if not rows:
        return ""
    text = "\nPaired differences from the reference interval (test):\n\n"
    return text + reporting.markdown_rows(["difference", "model", "worst-class", "balanced"], rows)


def summary(records, grid, workdir):
    """summary.md's text; draws the Pareto plots of the stored trade-off grids."""
    check_records(records)
    text = (
        "Test worst-class accuracy (balanced accuracy), mean ± standard error (number of "
        f"runs: {len(grid.teacher_seeds)} teacher seeds x {grid.repeats} student seeds per "
        "teacher; a student's temperature is chosen on its first seed with each teacher).\n\n"
    ) + table(records, grid)
    text += "\nBaselines without distillation (App. E.7):\n\n" + baselines_table(records, grid)
    text += "\nPaired differences (same teacher seed and student seed), mean ± standard error:\n\n"
    text += paired_table(records, grid)
    for labels in grid.tradeoff_validation_labels:
        text += tradeoff_summary(records, grid, workdir, labels)
    return text + dro_update_summary(records, grid)
