"""Accuracy against the number of labeled examples: one line per method, with error bars."""

import matplotlib

from tf_robust_distill.reporting.plots.figures import finish_panels, new_figure
from tf_robust_distill.reporting.statistics import mean_and_stderr

REFERENCE_STYLES = (("--", "black", "*"), (":", "gray", "x"), ("-.", "brown", "+"))
"""(linestyle, color, marker) of the reference lines, in order."""

_MARKERS = "osD^vPXhp<>d"
# tab10 without its gray, which a reference line uses.
_COLORS = [color for index, color in enumerate(matplotlib.colormaps["tab10"].colors) if index != 7]


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
    figure, axes = new_figure(
        (6.0 * len(panels) + 2.5, 4.8), 1, len(panels), sharey=True, squeeze=False
    )
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
                marker=_MARKERS[index % len(_MARKERS)],
                color=_COLORS[index % len(_COLORS)],
                capsize=3,
                label=method,
            )
        axis.set_title(panel)
        axis.set_xlabel(xlabel)
        axis.set_xticks(sizes)
        axis.grid(alpha=0.3)
    return finish_panels(figure, axes, ylabel, title, path)
