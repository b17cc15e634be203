"""The robust students' experiment (configs/unlabeled_robust.py) at smoke size: its
worst-class section against numpy and scipy on the stored per-trial results; its plot."""

import json

import numpy as np
import pytest
from scipy import stats

from configs import unlabeled_robust
from experiments import unlabeled_distill as experiment
from tf_robust_distill import reporting

TRIALS = (0, 1, 2)
METRICS = {"worst-class": "worst1_accuracy", "balanced": "balanced_accuracy"}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("robust_smoke")
    config = unlabeled_robust.get_config("smoke")
    config.grid.trials = TRIALS
    summary = experiment.run_grid(config, str(workdir))
    stored = json.loads((workdir / "summary.json").read_text())["cells"]
    values = {}
    for entry in stored:
        cell, report = entry["cell"], entry["result"]["student"]["test"]
        for name, metric in METRICS.items():
            values.setdefault((cell["objective"], name), {})[cell["trial"]] = 100 * report[metric]
    return workdir, summary, values


def _row(summary, name):
    """The cells of the markdown row named `name`, after the paired-differences heading."""
    rows = [line for line in summary.splitlines() if line.startswith(f"| {name} |")]
    return [row.strip("| ").split(" | ")[1:] for row in rows]


@pytest.mark.slow  # the smoke grid's whole jobs
def test_every_objective_has_every_trial_and_a_plot(smoke_run):
    workdir, _, values = smoke_run
    assert set(values) == {(o, m) for o in unlabeled_robust.OBJECTIVES for m in METRICS}
    assert all(sorted(trials) == list(TRIALS) for trials in values.values())
    assert (workdir / "worst_vs_balanced.png").stat().st_size > 0


@pytest.mark.slow  # the smoke grid's whole jobs
def test_means_and_paired_differences_are_numpys_and_scipys(smoke_run):
    _, summary, values = smoke_run
    for objective in unlabeled_robust.OBJECTIVES:
        found = [cells[0] for cells in _row(summary, objective)]
        expected = []
        for name in METRICS:
            per_trial = np.array([values[objective, name][t] for t in TRIALS])
            stderr = per_trial.std(ddof=1) / np.sqrt(per_trial.size)
            expected.append(f"{per_trial.mean():.2f} ± {stderr:.2f} ({per_trial.size})")
        # Rows of the last-epoch and best-epoch accuracy tables come first.
        assert found[-2:] == expected
    for objective, baseline in unlabeled_robust.PAIRS:
        found = [cells[0] for cells in _row(summary, f"{objective} − {baseline}")]
        expected = []
        for name in METRICS:
            ours = np.array([values[objective, name][t] for t in TRIALS])
            theirs = np.array([values[baseline, name][t] for t in TRIALS])
            difference = ours - theirs
            stderr = difference.std(ddof=1) / np.sqrt(difference.size)
            p_value = stats.ttest_rel(ours, theirs).pvalue
            expected.append(
                f"{difference.mean():+.2f} ± {stderr:.2f} ({difference.size} pairs), "
                f"p = {p_value:.3f}"
            )
        assert found[-2:] == expected


def test_trial_points_draws_every_trial_its_mean_and_stderr_and_the_references(tmp_path):
    points = [(70.0, 10.0), (72.0, 16.0), (74.0, 13.0)]
    path = tmp_path / "points.png"
    figure = reporting.plot_trial_points(
        {"A": {"robust": points}}, str(path), {"A": {"teacher": (71.0, 15.0)}}
    )
    assert path.stat().st_size > 0
    (axis,) = figure.axes
    trials, teacher = axis.collections[0], axis.collections[-1]
    np.testing.assert_array_equal(trials.get_offsets(), points)
    np.testing.assert_array_equal(teacher.get_offsets(), [(71.0, 15.0)])
    (container,) = axis.containers
    line, _, (x_bars, y_bars) = container
    xs, ys = np.array(points).T
    np.testing.assert_allclose([line.get_xdata()[0], line.get_ydata()[0]], [xs.mean(), ys.mean()])
    y_stderr = ys.std(ddof=1) / np.sqrt(ys.size)
    segment = np.asarray(y_bars.get_segments())[0]
    np.testing.assert_allclose(segment[:, 1], [ys.mean() - y_stderr, ys.mean() + y_stderr])
    x_stderr = xs.std(ddof=1) / np.sqrt(xs.size)
    segment = np.asarray(x_bars.get_segments())[0]
    np.testing.assert_allclose(segment[:, 0], [xs.mean() - x_stderr, xs.mean() + x_stderr])
