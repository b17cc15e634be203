"""Reliability diagrams: accuracy against confidence per bin, with the ECE in the title."""

import numpy as np

from tf_robust_distill.metrics.calibration import ece_of_bins
from tf_robust_distill.reporting.plots.figures import finish, new_figure


def plot_reliability(panels, path=None, title=None):
    """Reliability diagrams side by side, e.g. before and after temperature scaling.

    Each panel draws the accuracy of every non-empty confidence bin as a bar, the gap to
    the bin's mean confidence hatched, the diagonal of perfect calibration, and below it
    the share of examples per bin; the panel's title carries its ECE (Guo et al., ICML
    2017, sec. 2).

    Args:
      panels: {panel title: `tf_robust_distill.metrics.calibration.reliability_bins` dict}.
    """
    figure, axes = new_figure(
        (4.2 * len(panels), 5.0),
        2,
        len(panels),
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
    return finish(figure, path)
