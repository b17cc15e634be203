"""Summaries of repeated runs: mean ± standard error, and the Pareto front of two scores."""

import numpy as np


def mean_and_stderr(values):
    """Mean and standard error of the mean, s / sqrt(n) with the n - 1 sample deviation s.

    The standard error of a single value is 0.
    """
    values = np.asarray(values, np.float64)
    if values.size < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def format_mean(values, digits=4):
    """'mean ± stderr (n)': how the grids report repeated runs."""
    mean, stderr = mean_and_stderr(values)
    return f"{mean:.{digits}f} ± {stderr:.{digits}f} ({len(values)})"


def pareto_front(points):
    """Indices of the points no other point beats on both coordinates (x, y), by x."""
    points = np.asarray(points, np.float64)
    front = [
        i
        for i, (x, y) in enumerate(points)
        if not np.any((points[:, 0] >= x) & (points[:, 1] >= y) & np.any(points != (x, y), 1))
    ]
    return sorted(front, key=lambda i: points[i, 0])
