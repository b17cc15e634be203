"""Two scores of repeated runs: every trial a point, every method's mean a large marker."""

from tf_robust_distill.reporting.plots.accuracy_vs_labeled import (
    _COLORS,
    _MARKERS,
    REFERENCE_STYLES,
)
from tf_robust_distill.reporting.plots.figures import finish_panels, new_figure
from tf_robust_distill.reporting.statistics import mean_and_stderr


def plot_trial_points(panels, path=None, references=None, title=None, xlabel="x", ylabel="y"):
    """A scatter of (x, y) per trial and the mean ± standard error of each method.

    Args:
      panels: {panel title: {method: [(x, y) per trial]}}, one panel each; a method keeps
        its color and marker in every panel.
      references: {panel title: {name: (x, y)}}: single points drawn in that panel (e.g.
        the teacher), in the styles of `REFERENCE_STYLES`.
    """
    references = references or {}
    figure, axes = new_figure((6.0 * len(panels) + 2.5, 4.8), 1, len(panels), squeeze=False)
    order = list(dict.fromkeys(method for methods in panels.values() for method in methods))
    for axis, (panel, methods) in zip(axes[0], panels.items(), strict=True):
        for method, points in methods.items():
            index = order.index(method)
            style = {
                "color": _COLORS[index % len(_COLORS)],
                "marker": _MARKERS[index % len(_MARKERS)],
            }
            xs, ys = zip(*points, strict=True)
            axis.scatter(xs, ys, s=18, alpha=0.45, **style)
            (mean_x, stderr_x), (mean_y, stderr_y) = mean_and_stderr(xs), mean_and_stderr(ys)
            axis.errorbar(
                [mean_x],
                [mean_y],
                xerr=[stderr_x],
                yerr=[stderr_y],
                markersize=10,
                markeredgecolor="black",
                capsize=3,
                linestyle="none",
                label=f"{method} (mean of {len(points)})",
                **style,
            )
        for (name, (x, y)), (_, color, marker) in zip(
            references.get(panel, {}).items(), REFERENCE_STYLES, strict=False
        ):
            axis.scatter([x], [y], s=90, color=color, marker=marker, label=name, zorder=4)
        axis.set_title(panel)
        axis.set_xlabel(xlabel)
        axis.grid(alpha=0.3)
    return finish_panels(figure, axes, ylabel, title, path)
