"""The tables and the plot of the unlabeled grid, from its plan and its stored results.

`experiments.unlabeled_distill` plans the grid (`Plan`: which cells make which row) and
runs it; this module reads the results of the plan's cells by their key and writes:
test accuracy (%) per objective and labeled size, mean ± standard error over the trials;
each objective's per-trial paired difference from vanilla (the same V/U split and data
order), with its standard error and the paired t-test's p-value, and each SLaM
composition's (slam_X) from X alone; debiasing weights once
vs re-estimated; the options chosen on H by every search; SLaM App. D.5's temperature
ablation; and accuracy against the size of A. With ``grid.worst_class_pairs`` (issue 19's
robust students), also the worst-class and balanced test accuracy per objective, the
paired differences of those pairs, and worst-class against balanced accuracy per trial.
"""

import numpy as np

from tf_robust_distill import reporting
from tf_robust_distill.grid import cell_key

BASELINE = "vanilla"


def dataset_title(config):
    """The dataset's name, with its long-tail ratio when it has one."""
    ratio = config.dataset.get("imbalance_ratio")
    return config.dataset.name + (f" (long-tailed, ratio {ratio:g})" if ratio else "")


def final_accuracy(result):
    return result["student"]["test"]["accuracy"]


def best_accuracy(result):
    return result["best_test_accuracy"]


VALUES = (("after the last epoch", final_accuracy), ("best epoch", best_accuracy))
# The test metrics of `evaluation.classification_report` the worst-class section reports.
WORST_CLASS_METRICS = (("worst-class", "worst1_accuracy"), ("balanced", "balanced_accuracy"))


def report_metric(model, metric):
    """result -> `model`'s (student, teacher, pretrained_student) test `metric`."""
    return lambda result: result[model]["test"][metric]


def references(metric="accuracy"):
    """(name, value) of the teacher and the student on A for a test `metric`."""
    return (
        ("teacher", report_metric("teacher", metric)),
        ("student on A", report_metric("pretrained_student", metric)),
    )


REFERENCES = references()


def by_trial(row_cells, results, value):
    """{trial: 100 · value(result)} of the row's cells that have a result."""
    return {
        cell["trial"]: 100 * value(results[cell_key(cell)])
        for cell in row_cells
        if cell_key(cell) in results
    }


def reference_accuracies(plan, results, value):
    """{num_labeled: 100 · value} of the first stored cell of each size (teacher, student on A)."""
    references = {}
    for cell in plan.cells():
        if cell_key(cell) in results:
            references.setdefault(cell["num_labeled"], 100 * value(results[cell_key(cell)]))
    return references


def reference_rows(plan, results, sizes, reference_values=REFERENCES):
    rows = []
    for name, value in reference_values:
        accuracies = reference_accuracies(plan, results, value)
        rows.append([name, *(f"{accuracies[n]:.2f}" if n in accuracies else "" for n in sizes)])
    return rows


def accuracy_table(plan, results, rows, value, reference_values=REFERENCES):
    """Markdown: teacher, pre-trained student (`reference_values`) and `rows` × labeled
    sizes, in %."""
    sizes = plan.sizes
    lines = reference_rows(plan, results, sizes, reference_values)
    for row in rows:
        cells = []
        for size in sizes:
            values = list(by_trial(row.cells.get(size, []), results, value).values())
            cells.append(reporting.format_mean(values, digits=2) if values else "")
        lines.append([row.name, *cells])
    return reporting.markdown_rows(["method", *(str(n) for n in sizes)], lines)


def extreme_sizes(plan):
    """The smallest and the largest labeled size of the plan."""
    return min(plan.sizes), max(plan.sizes)


def paired_table(plan, results, pairs, value):
    """Markdown: each (row, baseline) pair's paired difference (points of %), per size:
    mean ± standard error over the trials both have, and the paired t-test's p-value.

    With more than one labeled size, a last column compares the differences at the
    smallest and the largest size (SLaM's claim (ii): the gain is largest where the
    teacher is weakest): the difference of their means, its standard error and Welch's
    p-value, the two sizes' trials being independent (each size has its own A, V and U).
    """
    lines = []
    for row, baseline in pairs:
        differences = {}
        for size in plan.sizes:
            ours = by_trial(row.cells.get(size, []), results, value)
            theirs = by_trial(baseline.cells.get(size, []), results, value)
            trials = sorted(set(ours) & set(theirs))
            differences[size] = ([ours[t] for t in trials], [theirs[t] for t in trials])
        cells = [
            reporting.format_paired_test(*pair, digits=2) if pair[0] else ""
            for pair in differences.values()
        ]
        if len(plan.sizes) > 1:
            smallest, largest = (np.subtract(*differences[n]) for n in extreme_sizes(plan))
            cells.append(
                reporting.format_welch_test(smallest, largest, digits=2)
                if len(smallest) and len(largest)
                else ""
            )
        lines.append([f"{row.name} − {baseline.name}", *cells])
    header = ["difference", *(str(n) for n in plan.sizes)]
    if len(plan.sizes) > 1:
        header.append("{} − {}".format(*extreme_sizes(plan)))
    return reporting.markdown_rows(header, lines)


def composition_pairs(rows):
    """(slam_X, X) row pairs: what SLaM adds to method X (e.g. fidelity weighting), the
    comparison a claim that SLaM composes with X rests on."""
    by_objective = {row.objective: row for row in rows}
    return [
        (row, by_objective[row.objective.removeprefix("slam_")])
        for row in rows
        if row.objective.startswith("slam_") and row.objective.removeprefix("slam_") in by_objective
    ]


def format_options(options):
    return ", ".join(f"{name} = {value}" for name, value in options.items()) or "—"


def selection_table(plan, config):
    """Markdown: per search, the winner, its score on H and every candidate's score."""
    metric = config.selection.metric
    lines = []
    for (num_labeled, labels, objective), chosen in plan.chosen.items():
        if chosen is None:
            lines.append([str(num_labeled), labels, objective, "(not finished)", "", "", ""])
            continue
        for record in chosen[1]:
            scores = ", ".join(
                f"{format_options(candidate)}: {score:.4f}"
                for candidate, score in zip(record["candidates"], record["scores"], strict=True)
            )
            lines.append(
                [
                    str(num_labeled),
                    labels,
                    objective,
                    format_options(record["winner"]),
                    f"{record['winner_score']:.4f}",
                    format_options(record["fixed"]),
                    scores,
                ]
            )
    header = ["labeled", "labels", "objective", "chosen", f"H {metric}", "held at", "candidates"]
    return reporting.markdown_rows(header, lines)


def selection_note(config):
    """What the searches were scored on, and what the reported trials train on."""
    holdout = config.selection.holdout_fraction
    trained = "A ∪ V ∪ U" if config.unlabeled.train_on_validation else "A ∪ U"
    return (
        f"Each search trains one student per candidate on a V/U split of its own (seed "
        f"{config.selection.trial}) and scores it by {config.selection.metric} on H, "
        f"{holdout:g} of V drawn at random and held out of that student's training set and "
        f"of the estimators fitted on V (SLaM's α(x), k(x), the debiasing weights): no "
        f"candidate is scored on an example it trained on. The reported trials then train "
        f"the chosen options on {trained} with the whole of V. The search goes one "
        f"coordinate at a time: the temperature first (soft labels), then the objective's "
        f"options at the chosen temperature.\n"
    )


def temperature_ablation_table(plan, results, config):
    """SLaM App. D.5: per labeled size and method, the best (t_A, t_B) pair by mean test
    accuracy after the last epoch over trials (the paper reports the best pair), beside
    the main grid's soft cells (true labels on A, the chosen t_B); then each method at its
    best pair against the first method (vanilla) at its own, paired by trial."""
    ablation = config.grid.temperature_ablation
    main = {row.name: row for row in plan.main.get("soft", [])}
    lines, best_by_trial, differences = [], {}, []
    for num_labeled in ablation.num_labeled:
        for objective in ablation.objectives:
            pairs = {}
            for cell in plan.ablation:
                key = cell_key(cell)
                if (cell["num_labeled"], cell["objective"]) == (num_labeled, objective):
                    if key in results:
                        accuracy = 100 * final_accuracy(results[key])
                        pairs.setdefault((cell["t_A"], cell["t_B"]), {})[cell["trial"]] = accuracy
            row = main.get(plan.row_name(objective))
            reference = (
                list(by_trial(row.cells.get(num_labeled, []), results, final_accuracy).values())
                if row
                else []
            )
            best = (
                max(pairs, key=lambda pair: np.mean(list(pairs[pair].values()))) if pairs else None
            )
            best_by_trial[num_labeled, objective] = pairs.get(best, {})
            lines.append(
                [
                    str(num_labeled),
                    objective,
                    reporting.format_mean(reference, digits=2) if reference else "",
                    reporting.format_mean(list(pairs[best].values()), digits=2) if best else "",
                    f"{best[0]:g}, {best[1]:g}" if best else "",
                    f"{len(pairs)} of {len(ablation.temperatures) ** 2}",
                ]
            )
        first, *others = (best_by_trial[num_labeled, o] for o in ablation.objectives)
        for objective, ours in zip(ablation.objectives[1:], others, strict=True):
            trials = sorted(set(ours) & set(first))
            if len(trials) > 1:
                values = [[ours[t] for t in trials], [first[t] for t in trials]]
                differences.append(
                    f"- {num_labeled} labels, {objective} − {ablation.objectives[0]}, each at "
                    f"its best pair: {reporting.format_paired_test(*values, digits=2)}\n"
                )
    header = [
        "labeled",
        "method",
        "true labels on A, main grid's t_B",
        "best (t_A, t_B)",
        "t_A, t_B",
        "pairs run",
    ]
    table = reporting.markdown_rows(header, lines)
    return table + ("\n" + "".join(differences) if differences else "")


def worst_class_pairs(plan, config):
    """{labels: [(row, baseline rows)]} of ``grid.worst_class_pairs`` among the main rows."""
    found = {}
    for labels, rows in plan.main.items():
        by_objective = {row.objective: row for row in rows}
        found[labels] = [
            (by_objective[objective], by_objective[baseline])
            for objective, baseline in config.grid.worst_class_pairs
            if objective in by_objective and baseline in by_objective
        ]
    return found


def worst_class_section(plan, results, config):
    """Markdown: per kind of labels and metric of `WORST_CLASS_METRICS`, the test metric
    per objective and the paired differences of ``grid.worst_class_pairs``, after the
    last epoch."""
    sections = []
    pairs = worst_class_pairs(plan, config)
    for labels, rows in plan.main.items():
        for name, metric in WORST_CLASS_METRICS:
            value = report_metric("student", metric)
            sections.append(f"\n## {labels} labels, {name} test accuracy (%), last epoch\n\n")
            sections.append(accuracy_table(plan, results, rows, value, references(metric)))
            if pairs[labels]:
                sections.append(f"\nPaired differences of {name} accuracy:\n\n")
                sections.append(paired_table(plan, results, pairs[labels], value))
    return "".join(sections)


def summary(plan, results, config):
    """Markdown tables of the stored cells of `plan` (`results`: {cell key: result})."""
    sections = [
        "Test accuracy (%), mean ± standard error (number of trials); teacher and student on A "
        "are trained once per labeled size. Differences are paired by trial (the same V/U "
        "split and data order), in points of %, with the paired t-test's p-value.\n"
    ]
    for title, value in VALUES:
        for labels, rows in plan.main.items():
            sections.append(f"\n## {labels} labels, {title}\n\n")
            sections.append(accuracy_table(plan, results, rows, value))
            baseline = next((row for row in rows if row.objective == BASELINE), None)
            if baseline is not None and len(rows) > 1:
                sections.append(f"\nPaired differences from {BASELINE}:\n\n")
                pairs = [(row, baseline) for row in rows if row is not baseline]
                sections.append(paired_table(plan, results, pairs, value))
            pairs = composition_pairs(rows)
            if pairs:
                sections.append(
                    "\nPaired differences of SLaM compositions from their other part:\n\n"
                )
                sections.append(paired_table(plan, results, pairs, value))
    if plan.comparison:
        sections.append(
            "\n## Debiasing weights estimated once vs during training "
            "(weighted paper Figure 9), soft labels, after the last epoch\n\n"
        )
        sections.append(accuracy_table(plan, results, plan.comparison, final_accuracy))
        if len(plan.comparison) > 1:
            sections.append("\nPaired differences:\n\n")
            first = plan.comparison[0]
            pairs = [(row, first) for row in plan.comparison[1:]]
            sections.append(paired_table(plan, results, pairs, final_accuracy))
    if config.grid.worst_class_pairs:
        sections.append(worst_class_section(plan, results, config))
    if plan.chosen:
        sections.append("\n## Hyperparameters chosen on H\n\n")
        sections.append(selection_note(config) + "\n")
        sections.append(selection_table(plan, config))
    if plan.ablation:
        sections.append(
            "\n## Temperature ablation (SLaM App. D.5, Figure 6): soft labels at t_A on A and "
            "t_B on U, best pair by mean test accuracy after the last epoch\n\n"
        )
        sections.append(temperature_ablation_table(plan, results, config))
    return "".join(sections)


def plot_accuracy_vs_labeled(plan, results, config, path):
    """Test accuracy (%) after the last epoch vs the size of A, one panel per kind of labels."""
    panels = {
        f"{labels} labels": {
            row.name: {
                size: values
                for size, cells in row.cells.items()
                if (values := list(by_trial(cells, results, final_accuracy).values()))
            }
            for row in rows
        }
        for labels, rows in plan.main.items()
    }
    references = {name: reference_accuracies(plan, results, value) for name, value in REFERENCES}
    reporting.plot_accuracy_vs_labeled(
        panels,
        path,
        references,
        title=f"Distillation with unlabeled examples on {dataset_title(config)}",
        xlabel="labeled examples (size of A)",
    )


def plot_worst_vs_balanced(plan, results, config, path):
    """Worst-class vs balanced test accuracy (%) after the last epoch: one point per trial
    and the mean of every objective, one panel per kind of labels and labeled size."""
    (_, worst_metric), (_, balanced_metric) = WORST_CLASS_METRICS
    worst, balanced = (
        report_metric("student", worst_metric),
        report_metric("student", balanced_metric),
    )
    reference_points = {
        name: (reference_accuracies(plan, results, x), reference_accuracies(plan, results, y))
        for (name, x), (_, y) in zip(
            references(balanced_metric), references(worst_metric), strict=True
        )
    }
    panels, panel_references = {}, {}
    for labels, rows in plan.main.items():
        for size in plan.sizes:
            points = {}
            for row in rows:
                cells = row.cells.get(size, [])
                xs, ys = by_trial(cells, results, balanced), by_trial(cells, results, worst)
                if xs:
                    points[row.name] = [(xs[trial], ys[trial]) for trial in sorted(xs)]
            panel = f"{labels} labels, A of {size}"
            panels[panel] = points
            panel_references[panel] = {
                name: (xs[size], ys[size])
                for name, (xs, ys) in reference_points.items()
                if size in xs
            }
    reporting.plot_trial_points(
        panels,
        path,
        panel_references,
        title=f"Students distilled with unlabeled examples on {dataset_title(config)}",
        xlabel="balanced test accuracy (%)",
        ylabel="worst-class test accuracy (%)",
    )
