"""Worst-class against balanced accuracy: every model a point, the Pareto front of all."""

from tf_robust_distill.reporting.plots.figures import finish, new_figure
from tf_robust_distill.reporting.statistics import pareto_front

_LABEL_BOX = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6}


def plot_pareto(groups, path=None, selected=None, xlabel="balanced accuracy", ylabel="worst-class"):
    """Worst-class vs balanced accuracy: every group's points, the Pareto front of all.

    Points are labeled when their group is small (at most 10) or they lie on the front.

    Args:
      groups: {legend label: [(x, y, point label), ...]}; a group named "teachers"
        is drawn with large black-edged squares on top, the others with dots.
      selected: (x, y, label) of the point a selection rule chose: ringed, and named in
        the title (a label inside the axes would hide other points).
    """
    figure, axis = new_figure((7.2, 5.0))
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
                    bbox=_LABEL_BOX,
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
    return finish(figure, path, dpi=130)
