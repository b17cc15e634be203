"""Per-class recall of several models side by side, with each class's training count."""

import numpy as np

from tf_robust_distill.reporting.plots.figures import finish, new_figure


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
    figure, axis = new_figure((max(6.0, width_per_class * num_classes), 4.0))
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
    return finish(figure, path)
