"""Results on disk: results.json, a markdown table, plots.

Every number a run reports is written here by code, from the dict that
`tf_robust_distill.pipeline` returns.
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

TABLE_METRICS = (
    ("accuracy", "acc"),
    ("balanced_accuracy", "bal. acc"),
    ("worst1_accuracy", "worst-1"),
    ("worstk_accuracy", "worst-k"),
    ("ece", "ECE"),
    ("nll", "NLL"),
)


def write_json(obj, path):
    """Write `obj` as indented JSON atomically (temporary file renamed into place)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True, default=_jsonable)
        handle.write("\n")
    os.replace(partial, path)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def markdown_table(results):
    """One row per model and split: accuracy, balanced, worst-1, worst-k, ECE, NLL."""
    header = "| model | split | " + " | ".join(label for _, label in TABLE_METRICS) + " |"
    lines = [header, "|" + "---|" * (len(TABLE_METRICS) + 2)]
    for role in ("teacher", "student"):
        for split in ("val", "test"):
            row = results.get(role, {}).get(split)
            if row is None:
                continue
            cells = " | ".join(f"{row[key]:.4f}" for key, _ in TABLE_METRICS)
            lines.append(f"| {role} | {split} | {cells} |")
    if "agreement" in results:
        agreement = results["agreement"]
        lines.append("")
        lines.append(
            "teacher-student top-1 agreement: "
            + ", ".join(f"{split} {agreement[split]:.4f}" for split in ("val", "test"))
        )
    return "\n".join(lines) + "\n"


def plot_per_class_recall(results, path, split="test", class_names=None):
    """Grouped bars of per-class recall, teacher beside student, on `split`.

    Tick labels carry each class's training count when `results["dataset"]` has them,
    so a long tail shows next to the recall it costs.
    """
    roles = [role for role in ("teacher", "student") if split in results.get(role, {})]
    recalls = [np.asarray(results[role][split]["per_class_recall"]) for role in roles]
    num_classes = len(recalls[0])
    positions = np.arange(num_classes)
    width = 0.8 / len(roles)
    figure, axis = plt.subplots(figsize=(max(6.0, 0.45 * num_classes), 3.6))
    for offset, (role, recall) in enumerate(zip(roles, recalls, strict=True)):
        worst = np.nanmin(recall)
        axis.bar(
            positions + (offset - (len(roles) - 1) / 2) * width,
            recall,
            width,
            label=f"{role} (worst {worst:.2f}, mean {np.nanmean(recall):.2f})",
        )
    names = class_names or [str(c) for c in range(num_classes)]
    counts = results.get("dataset", {}).get("train_class_counts")
    if counts is not None:
        names = [f"{name}\nn={int(count)}" for name, count in zip(names, counts, strict=True)]
    axis.set_xticks(positions)
    axis.set_xticklabels(names, fontsize=8)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel(f"recall ({split})")
    axis.set_xlabel("class (training examples)" if counts is not None else "class")
    axis.legend(loc="lower left", fontsize=8)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_run(results, workdir, class_names=None):
    """results.json, results.md and per_class_recall.png in `workdir`; returns the table."""
    write_json(results, os.path.join(workdir, "results.json"))
    table = markdown_table(results)
    with open(os.path.join(workdir, "results.md"), "w") as handle:
        handle.write(table)
    plot_per_class_recall(
        results, os.path.join(workdir, "per_class_recall.png"), "test", class_names
    )
    return table


def mean_and_stderr(values):
    """Mean and standard error of the mean (0 for a single value)."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def format_mean(values, digits=4):
    """'mean ± stderr (n)': how the grids report repeated runs."""
    mean, stderr = mean_and_stderr(values)
    return f"{mean:.{digits}f} ± {stderr:.{digits}f} ({len(values)})"


def markdown_rows(header, rows):
    """A markdown table from a header and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pareto_front(points):
    """Indices of the points no other point beats on both coordinates (x, y), by x."""
    points = np.asarray(points, np.float64)
    front = [
        i
        for i, (x, y) in enumerate(points)
        if not np.any((points[:, 0] >= x) & (points[:, 1] >= y) & np.any(points != (x, y), 1))
    ]
    return sorted(front, key=lambda i: points[i, 0])


def plot_pareto(groups, path, selected=None, xlabel="balanced accuracy", ylabel="worst-class"):
    """Worst-class vs balanced accuracy: every group's points, the Pareto front of all.

    Points are labeled when their group is small (at most 10) or they lie on the front.

    Args:
      groups: {legend label: [(x, y, point label), ...]}; a group named "teachers"
        is drawn with squares, the others with dots.
      selected: (x, y, label) of the point a selection rule chose, ringed and labeled.
    """
    figure, axis = plt.subplots(figsize=(7.2, 5.0))
    everything = [(x, y) for points in groups.values() for x, y, _ in points]
    front = [everything[i] for i in pareto_front(everything)]
    for name, points in groups.items():
        if not points:
            continue
        xs, ys, _ = zip(*points, strict=True)
        marker = "s" if name == "teachers" else "o"
        axis.scatter(xs, ys, marker=marker, s=36, label=name, alpha=0.85)
        for x, y, label in points:
            if len(points) <= 10 or (x, y) in front:
                axis.annotate(label, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    axis.step(*zip(*front, strict=True), where="pre", color="gray", lw=1, label="Pareto front")
    if selected is not None:
        axis.scatter([selected[0]], [selected[1]], s=160, facecolors="none", edgecolors="red")
        axis.annotate(
            f"selected: {selected[2]}",
            selected[:2],
            color="red",
            fontsize=8,
            xytext=(-40, -28),
            textcoords="offset points",
        )
    axis.set_xlabel(f"{xlabel} (test)")
    axis.set_ylabel(f"{ylabel} accuracy (test)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)
