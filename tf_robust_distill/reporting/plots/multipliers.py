"""The DRO multipliers λ_j of every class over the epochs of a fit."""

import matplotlib
import numpy as np

from tf_robust_distill.reporting.histories import logged_multipliers
from tf_robust_distill.reporting.plots.figures import finish, new_figure


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
    colors = matplotlib.colormaps["tab10" if num_classes <= 10 else "viridis"]
    figure, axis = new_figure((7.5, 4.2))
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
    return finish(figure, path)
