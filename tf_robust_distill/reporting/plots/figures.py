"""Figures owned by their caller: matplotlib.figure.Figure, no pyplot state, no backend.

A figure made here is not registered with pyplot, so nothing has to close it and no
backend has to be chosen: ``savefig`` renders with Agg, a notebook (after
``%matplotlib inline``, in any order with the imports) shows the returned figure as the
value of a cell or through ``display``, and garbage collection frees it.
"""

from matplotlib.figure import Figure


def new_figure(figsize, rows=1, columns=1, **subplots):
    """A figure of `figsize` inches and its [rows, columns] grid of axes.

    Args:
      subplots: passed on to ``Figure.subplots`` (e.g. ``sharex``, ``squeeze``,
        ``gridspec_kw``); with the default ``squeeze``, one axis comes back alone.
    """
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, columns, **subplots)


def finish(figure, path, dpi=120):
    """Lay out `figure`, write it to `path` when a path is given; return the figure."""
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure


def finish_panels(figure, axes, ylabel, title, path):
    """A row of panels: `ylabel` on the first, the legend right of the last, `title` above
    (if any); then `finish`."""
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
    if title:
        figure.suptitle(title)
    return finish(figure, path)
