"""Results on disk: results.json, a markdown table, plots.

Every number a run reports is written here by code, from the dict that
`tf_robust_distill.pipeline` returns.
"""

import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tf_robust_distill.metrics import formulas  # noqa: E402
from tf_robust_distill.metrics.calibration import calibration_bins  # noqa: E402

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


def plot_per_class_recall(results, path=None, split="test", class_names=None, roles=None):
    """Grouped bars of per-class recall, one bar per model (teacher beside student), on `split`.

    Tick labels carry each class's training count when `results["dataset"]` has them,
    so a long tail shows next to the recall it costs.

    Args:
      roles: the models of `results` to draw, in order (default: teacher, student),
        each with ``results[role][split]["per_class_recall"]``.
    """
    roles = [role for role in roles or ("teacher", "student") if split in results.get(role, {})]
    recalls = [np.asarray(results[role][split]["per_class_recall"]) for role in roles]
    num_classes = len(recalls[0])
    positions = np.arange(num_classes)
    width = 0.8 / len(roles)
    width_per_class = 0.15 * (len(roles) + 1)
    figure, axis = plt.subplots(figsize=(max(6.0, width_per_class * num_classes), 4.0))
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
    long_names = max(len(name.split("\n")[0]) for name in names) > 6
    axis.set_xticklabels(
        names, fontsize=8, rotation=30 if long_names else 0, ha="right" if long_names else "center"
    )
    axis.set_ylim(0, 1.05)
    axis.set_ylabel(f"recall ({split})")
    axis.set_xlabel("class (training examples)" if counts is not None else "class")
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    axis.grid(axis="y", alpha=0.3)
    return _finish(figure, path)


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


def plot_pareto(groups, path=None, selected=None, xlabel="balanced accuracy", ylabel="worst-class"):
    """Worst-class vs balanced accuracy: every group's points, the Pareto front of all.

    Points are labeled when their group is small (at most 10) or they lie on the front.

    Args:
      groups: {legend label: [(x, y, point label), ...]}; a group named "teachers"
        is drawn with large black-edged squares on top, the others with dots.
      selected: (x, y, label) of the point a selection rule chose: ringed, and named in
        the title (a label inside the axes would hide other points).
    """
    figure, axis = plt.subplots(figsize=(7.2, 5.0))
    everything = [(x, y) for points in groups.values() for x, y, _ in points]
    front = [everything[i] for i in pareto_front(everything)]
    for name, points in groups.items():
        if not points:
            continue
        xs, ys, _ = zip(*points, strict=True)
        if name == "teachers":
            style = {"marker": "s", "s": 64, "edgecolors": "black", "zorder": 4}
        else:
            style = {"marker": "o", "s": 36, "alpha": 0.85, "zorder": 3}
        axis.scatter(xs, ys, label=name, **style)
        for x, y, label in points:
            if len(points) <= 10 or (x, y) in front:
                axis.annotate(
                    label,
                    (x, y),
                    fontsize=6,
                    xytext=(3, 3),
                    textcoords="offset points",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
                    zorder=5,
                )
    axis.step(*zip(*front, strict=True), where="pre", color="gray", lw=1, label="Pareto front")
    if selected is not None:
        axis.scatter(
            [selected[0]], [selected[1]], s=200, facecolors="none", edgecolors="red", lw=1.5
        )
        axis.set_title(f"selected (red ring): {selected[2]}", color="red", fontsize=9)
    axis.set_xlabel(f"{xlabel} (test)")
    axis.set_ylabel(f"{ylabel} accuracy (test)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="best")
    return _finish(figure, path, dpi=130)


def _finish(figure, path, dpi=120):
    """Lay out `figure`; write it to `path` (then close it) when a path is given."""
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=dpi)
        plt.close(figure)
    return figure


def reliability_bins(labels, probs, num_bins=15):
    """Per-bin sums of a reliability diagram: the equal-width confidence bins of the ECE.

    The bins and sums are those `trd.metrics.expected_calibration_error` reduces (Guo et
    al., ICML 2017, sec. 2): bin b holds the top-1 confidences in (b/M, (b+1)/M].

    Returns:
      {"count", "confidence_sum", "correct_sum"}: lists of length `num_bins`; they add
      up over runs (pooling seeds), and `ece_of_bins` turns them into the ECE.
    """
    sums = calibration_bins(labels, probs, num_bins)
    keys = ("count", "confidence_sum", "correct_sum")
    return {key: values.tolist() for key, values in zip(keys, sums, strict=True)}


def ece_of_bins(bins):
    """The expected calibration error of `reliability_bins` (summed over runs or not)."""
    sums = (np.asarray(bins[key], np.float64) for key in ("count", "confidence_sum", "correct_sum"))
    return float(formulas.ece_from_bin_stats(*sums, xp=np))


def plot_reliability(panels, path=None, title=None):
    """Reliability diagrams side by side, e.g. before and after temperature scaling.

    Each panel draws the accuracy of every non-empty confidence bin as a bar, the gap to
    the bin's mean confidence hatched, the diagonal of perfect calibration, and below it
    the share of examples per bin; the panel's title carries its ECE.

    Args:
      panels: {panel title: `reliability_bins` dict}.
    """
    figure, axes = plt.subplots(
        2,
        len(panels),
        figsize=(4.2 * len(panels), 5.0),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": (3, 1)},
    )
    for column, (name, bins) in enumerate(panels.items()):
        count = np.asarray(bins["count"], np.float64)
        num_bins = len(count)
        filled = count > 0
        centers = (np.arange(num_bins)[filled] + 0.5) / num_bins
        accuracy = np.asarray(bins["correct_sum"])[filled] / count[filled]
        confidence = np.asarray(bins["confidence_sum"])[filled] / count[filled]
        axis, share = axes[0][column], axes[1][column]
        width = 1.0 / num_bins
        blue = {"color": "tab:blue", "alpha": 0.7, "edgecolor": "black"}
        axis.bar(centers, accuracy, width, label="accuracy", **blue)
        axis.bar(
            centers,
            confidence - accuracy,
            width,
            bottom=accuracy,
            facecolor="none",
            hatch="///",
            edgecolor="tab:red",
            linewidth=0.8,
            label="gap to mean confidence",
        )
        axis.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.set_title(f"{name}\nECE {ece_of_bins(bins):.4f}", fontsize=10)
        axis.grid(alpha=0.3)
        share.bar(centers, 100 * count[filled] / count.sum(), width, color="gray")
        share.set_xlabel("confidence (top-1 probability)")
        share.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("% of examples")
    axes[0][0].legend(loc="upper left", fontsize=8)
    if title:
        figure.suptitle(title)
    return _finish(figure, path)


REFERENCE_STYLES = (("--", "black", "*"), (":", "gray", "x"), ("-.", "brown", "+"))


def plot_accuracy_vs_labeled(
    panels,
    path=None,
    references=None,
    title=None,
    xlabel="labeled examples",
    ylabel="student test accuracy (%)",
):
    """Accuracy vs the number of labeled examples: a line per method, mean ± standard error.

    Args:
      panels: {panel title: {method: {num_labeled: [value per trial]}}}, one panel each
        (e.g. soft and hard labels); a method keeps its color and marker in every panel.
      references: {name: {num_labeled: value}} drawn in every panel without error bars
        (e.g. the teacher and the student trained on the labeled examples alone).
    """
    references = references or {}
    figure, axes = plt.subplots(
        1, len(panels), figsize=(6.0 * len(panels) + 2.5, 4.8), sharey=True, squeeze=False
    )
    markers = "osD^vPXhp<>d"
    # tab10 without its gray, which a reference line uses.
    colors = [color for index, color in enumerate(plt.get_cmap("tab10").colors) if index != 7]
    order = list(dict.fromkeys(method for methods in panels.values() for method in methods))
    for axis, (panel, methods) in zip(axes[0], panels.items(), strict=True):
        lines = (*methods.values(), *references.values())
        sizes = sorted({n for by_size in lines for n in by_size})
        for (name, values), (linestyle, color, marker) in zip(
            references.items(), REFERENCE_STYLES, strict=False
        ):
            present = [n for n in sizes if n in values]
            axis.plot(
                present,
                [values[n] for n in present],
                linestyle=linestyle,
                color=color,
                marker=marker,
                markersize=9,
                linewidth=2,
                label=name,
            )
        for method, by_size in methods.items():
            index = order.index(method)
            present = [n for n in sizes if n in by_size]
            if not present:
                continue
            stats = [mean_and_stderr(by_size[n]) for n in present]
            axis.errorbar(
                present,
                [mean for mean, _ in stats],
                yerr=[stderr for _, stderr in stats],
                marker=markers[index % len(markers)],
                color=colors[index % len(colors)],
                capsize=3,
                label=method,
            )
        axis.set_title(panel)
        axis.set_xlabel(xlabel)
        axis.set_xticks(sizes)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
    if title:
        figure.suptitle(title)
    return _finish(figure, path)


_MULTIPLIER_KEY = re.compile(r"lambda_(\d+)")


def logged_multipliers(history):
    """λ per epoch from a Keras History dict with keys lambda_0..lambda_{m-1}: [epochs, m].

    None when the history has no such key (a model without DRO multipliers).
    """
    columns = {
        int(match[1]): values
        for key, values in history.items()
        if (match := _MULTIPLIER_KEY.fullmatch(key))
    }
    if not columns:
        return None
    if sorted(columns) != list(range(len(columns))):
        raise ValueError(f"multiplier keys must be lambda_0..lambda_(m-1), got {sorted(columns)}")
    return np.stack([np.asarray(columns[j], np.float64) for j in range(len(columns))], axis=1)


def plot_multipliers(history, path=None, class_names=None, title="DRO multipliers over training"):
    """λ_j of every class over the epochs (robust paper Algorithms 1-3), beside uniform 1/m.

    With more than 10 classes only the five with the largest final λ are named.

    Args:
      history: a Keras History dict (``model.fit(...).history``) with lambda_0..lambda_{m-1}.
    """
    multipliers = logged_multipliers(history)
    if multipliers is None:
        raise ValueError(f"history holds no lambda_j keys (it has {sorted(history)})")
    epochs, num_classes = multipliers.shape
    names = class_names or [str(j) for j in range(num_classes)]
    named = set(range(num_classes)) if num_classes <= 10 else set(np.argsort(multipliers[-1])[-5:])
    colors = plt.get_cmap("tab10" if num_classes <= 10 else "viridis")
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    steps = np.arange(1, epochs + 1)
    for j in range(num_classes):
        color = colors(j) if num_classes <= 10 else colors(j / (num_classes - 1))
        axis.plot(
            steps,
            multipliers[:, j],
            marker="o" if epochs <= 30 else None,
            markersize=3,
            color=color,
            label=f"class {names[j]}" if j in named else None,
        )
    axis.axhline(1.0 / num_classes, linestyle="--", color="gray", label="uniform 1/m")
    axis.set_xlabel("epoch")
    axis.set_ylabel(r"multiplier $\lambda_j$")
    if epochs <= 20:
        axis.set_xticks(steps)
    axis.set_xlim(0.5, epochs + 0.5)
    axis.grid(alpha=0.3)
    axis.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    axis.set_title(title)
    return _finish(figure, path)


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
