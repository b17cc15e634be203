"""Summaries of repeated runs: mean ± standard error, paired differences, differences of
independent samples (Welch), and the Pareto front of two scores."""

import numpy as np
from scipy import stats


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


def paired_difference(values, baseline):
    """Mean and standard error of the paired differences values_i − baseline_i.

    Pairs share everything random but the compared arm (e.g. the same teacher seed and
    student seed), so their difference removes the variation the arms share; its mean
    over its standard error is the paired t statistic (``scipy.stats.ttest_rel``).
    """
    values, baseline = np.asarray(values, np.float64), np.asarray(baseline, np.float64)
    if values.shape != baseline.shape or values.ndim != 1:
        raise ValueError(
            f"paired values need two 1-D arrays of one length, got {values.shape} "
            f"and {baseline.shape}"
        )
    return mean_and_stderr(values - baseline)


def format_difference(values, baseline, digits=3):
    """'+mean ± stderr (n pairs)' of `paired_difference`."""
    mean, stderr = paired_difference(values, baseline)
    return f"{mean:+.{digits}f} ± {stderr:.{digits}f} ({len(values)} pairs)"


def paired_p_value(values, baseline):
    """Two-sided p-value of the paired t-test of values_i − baseline_i against a zero mean.

    t = mean / stderr of `paired_difference` with n − 1 degrees of freedom
    (``scipy.stats.ttest_rel``); NaN with fewer than 2 pairs or differences that are all
    equal, where t is undefined.
    """
    mean, stderr = paired_difference(values, baseline)
    if len(values) < 2 or stderr == 0:
        return float("nan")
    return float(2 * stats.t.sf(abs(mean / stderr), len(values) - 1))


def format_paired_test(values, baseline, digits=3):
    """'+mean ± stderr (n pairs), p = 0.012' of `paired_difference` and `paired_p_value`."""
    return (
        f"{format_difference(values, baseline, digits)}, p = {paired_p_value(values, baseline):.3f}"
    )


def independent_difference(values, other):
    """mean(values) − mean(other) of two independent samples (e.g. the paired gains of two
    labeled sizes, whose trials share no data), and its standard error sqrt(se² + se'²)."""
    mean, stderr = mean_and_stderr(values)
    other_mean, other_stderr = mean_and_stderr(other)
    return mean - other_mean, float(np.hypot(stderr, other_stderr))


def welch_p_value(values, other):
    """Two-sided p-value of Welch's t-test of equal means (``scipy.stats.ttest_ind`` with
    ``equal_var=False``); NaN with fewer than 2 values in either sample or no spread."""
    _, stderr = independent_difference(values, other)
    if min(len(values), len(other)) < 2 or stderr == 0:
        return float("nan")
    return float(stats.ttest_ind(values, other, equal_var=False).pvalue)


def format_welch_test(values, other, digits=3):
    """'+mean ± stderr, p = 0.012' of `independent_difference` and `welch_p_value`."""
    mean, stderr = independent_difference(values, other)
    return f"{mean:+.{digits}f} ± {stderr:.{digits}f}, p = {welch_p_value(values, other):.3f}"


def pareto_front(points):
    """Indices of the points no other point beats on both coordinates (x, y), by x."""
    points = np.asarray(points, np.float64)
    front = [
        i
        for i, (x, y) in enumerate(points)
        if not np.any((points[:, 0] >= x) & (points[:, 1] >= y) & np.any(points != (x, y), 1))
    ]
    return sorted(front, key=lambda i: points[i, 0])
