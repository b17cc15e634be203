"""The plots of reporting draw the numbers they are given (read back from the axes).

Every plot is a Figure of its own: no pyplot figure manager, no backend chosen at import.
"""

import importlib
import io
import json
import pkgutil

import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import NUM_CLASSES, tiny_net

from tf_robust_distill import metrics, reporting
from tf_robust_distill.objectives.balanced import class_priors_from_labels
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel


def _assert_unmanaged(figure):
    """A figure pyplot does not hold (nothing to close) that renders to PNG all the same."""
    assert figure.canvas.manager is None
    png = io.BytesIO()
    figure.savefig(png, format="png")
    assert png.getvalue().startswith(b"\x89PNG")


def test_importing_reporting_chooses_no_backend(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"matplotlib.use{args} at import")

    monkeypatch.setattr(matplotlib, "use", refuse)
    names = [
        info.name
        for info in pkgutil.walk_packages(reporting.__path__, "tf_robust_distill.reporting.")
    ]
    assert "tf_robust_distill.reporting.plots.figures" in names
    for name in ["tf_robust_distill.reporting", *names]:
        importlib.reload(importlib.import_module(name))


def _probs_and_labels(n=400, num_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(num_classes, 0.4), size=n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, num_classes, n))
    return probs, labels


def _bins_by_hand(probs, labels, num_bins):
    """Bin b holds confidences in (b/M, (b+1)/M] (Guo et al. 2017, sec. 2), transcribed."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    index = np.clip(np.ceil(confidence * num_bins).astype(int) - 1, 0, num_bins - 1)
    count = np.array([np.sum(index == b) for b in range(num_bins)], np.float64)
    confidence_sum = np.array([confidence[index == b].sum() for b in range(num_bins)])
    correct_sum = np.array([correct[index == b].sum() for b in range(num_bins)], np.float64)
    return count, confidence_sum, correct_sum


def test_reliability_bins_match_the_binning_by_hand_and_the_ece():
    probs, labels = _probs_and_labels()
    bins = reporting.reliability_bins(labels, probs, num_bins=10)
    count, confidence_sum, correct_sum = _bins_by_hand(probs, labels, 10)
    np.testing.assert_array_equal(bins["count"], count)
    np.testing.assert_allclose(bins["confidence_sum"], confidence_sum)
    np.testing.assert_array_equal(bins["correct_sum"], correct_sum)
    ece = metrics.expected_calibration_error(labels, probs, num_bins=10)
    assert reporting.ece_of_bins(bins) == pytest.approx(ece, abs=1e-12)


def test_reliability_diagram_draws_accuracy_gap_and_ece_per_panel():
    probs, labels = _probs_and_labels()
    sharp = probs**3 / np.sum(probs**3, axis=1, keepdims=True)
    panels = {
        "before": reporting.reliability_bins(labels, probs, num_bins=10),
        "after": reporting.reliability_bins(labels, sharp, num_bins=10),
    }
    figure = reporting.plot_reliability(panels)
    for column, (name, source) in enumerate((("before", probs), ("after", sharp))):
        count, confidence_sum, correct_sum = _bins_by_hand(source, labels, 10)
        filled = count > 0
        accuracy = correct_sum[filled] / count[filled]
        confidence = confidence_sum[filled] / count[filled]
        axis = figure.get_axes()[column]
        bars, gaps = axis.containers
        np.testing.assert_allclose([bar.get_height() for bar in bars], accuracy)
        np.testing.assert_allclose(
            [bar.get_x() + bar.get_width() / 2 for bar in bars],
            (np.flatnonzero(filled) + 0.5) / 10,
        )
        np.testing.assert_allclose([bar.get_y() for bar in gaps], accuracy)
        np.testing.assert_allclose([bar.get_height() for bar in gaps], confidence - accuracy)
        ece = metrics.expected_calibration_error(labels, source, num_bins=10)
        assert axis.get_title() == f"{name}\nECE {ece:.4f}"
    _assert_unmanaged(figure)


def test_accuracy_vs_labeled_draws_means_and_standard_errors(tmp_path):
    trials = {100: [80.0, 84.0, 83.0], 300: [88.0, 90.0]}
    panels = {"soft": {"vanilla": trials, "slam": {}}, "hard": {"slam": {100: [70.0]}}}
    teacher = {100: 91.0, 300: 92.5}
    path = tmp_path / "accuracy.png"
    figure = reporting.plot_accuracy_vs_labeled(panels, str(path), {"teacher": teacher})
    assert path.stat().st_size > 0
    soft, hard = figure.axes
    reference_line = soft.get_lines()[0]
    np.testing.assert_array_equal(reference_line.get_xdata(), [100, 300])
    np.testing.assert_array_equal(reference_line.get_ydata(), [91.0, 92.5])
    (container,) = soft.containers  # "slam" has no points in this panel
    line, _, (bars,) = container
    means = [np.mean(trials[100]), np.mean(trials[300])]
    stderrs = [np.std(trials[n], ddof=1) / np.sqrt(len(trials[n])) for n in (100, 300)]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), means)
    segments = np.asarray(bars.get_segments())
    np.testing.assert_allclose(segments[:, 0, 1], np.subtract(means, stderrs))
    np.testing.assert_allclose(segments[:, 1, 1], np.add(means, stderrs))
    (single,) = hard.containers
    np.testing.assert_array_equal(single[0].get_ydata(), [70.0])
    # "slam" keeps the color of its place among all methods (second), though "soft" draws none.
    assert single[0].get_color() == matplotlib.colormaps["tab10"].colors[1]
    assert line.get_color() == matplotlib.colormaps["tab10"].colors[0]
    assert [text.get_text() for text in hard.get_legend().get_texts()] == [
        "teacher",
        "slam",
    ]
    _assert_unmanaged(figure)


def _history(epochs=4, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    lam = rng.dirichlet(np.ones(num_classes), size=epochs)
    history = {f"lambda_{j}": list(lam[:, j]) for j in range(num_classes)}
    history.update(loss=list(rng.random(epochs)), val_lambda_0=[0.0] * epochs)
    return history, lam


def test_multipliers_plot_draws_one_line_per_class_and_the_uniform_level():
    history, lam = _history()
    np.testing.assert_array_equal(reporting.logged_multipliers(history), lam)
    figure = reporting.plot_multipliers(history, class_names=["a", "b", "c"])
    (axis,) = figure.axes
    *classes, uniform = axis.get_lines()
    for j, line in enumerate(classes):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_array_equal(line.get_ydata(), lam[:, j])
    np.testing.assert_allclose(uniform.get_ydata(), [1 / 3, 1 / 3])
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == ["class a", "class b", "class c", "uniform 1/m"]
    _assert_unmanaged(figure)


def test_multipliers_need_every_class_key():
    assert reporting.logged_multipliers({"loss": [1.0]}) is None
    with pytest.raises(ValueError, match="lambda_0..lambda_"):
        reporting.logged_multipliers({"lambda_0": [0.5], "lambda_2": [0.5]})
    with pytest.raises(ValueError, match="no lambda_j keys"):
        reporting.plot_multipliers({"loss": [1.0]})


def test_multiplier_plots_come_from_a_robust_models_fit(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype(np.float32)
    labels = np.arange(48, dtype=np.int32) % NUM_CLASSES
    targets = {"label": labels, "teacher_probs": np.eye(NUM_CLASSES, dtype=np.float32)[labels]}
    train = tf.data.Dataset.from_tensor_slices((x, targets)).batch(16)
    model = RobustModel(tiny_net(), class_priors=class_priors_from_labels(labels, NUM_CLASSES))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(train, epochs=3, verbose=0, callbacks=[MultiplierUpdate(train)]).history
    written = reporting.write_multiplier_plots(
        {"teacher": {"loss": history["loss"]}, "student": history, "none": {}}, str(tmp_path)
    )
    assert written == [str(tmp_path / "student_multipliers.png")]
    assert (tmp_path / "student_multipliers.png").stat().st_size > 0
    np.testing.assert_allclose(
        reporting.logged_multipliers(history)[-1], model.multipliers.current(), rtol=1e-6
    )


def test_pareto_plot_marks_teachers_and_labels_the_selected_point():
    groups = {
        "teachers": [(0.8, 0.6, "t0"), (0.7, 0.65, "t1")],
        "students": [(0.82, 0.62, "s0"), (0.75, 0.5, "s1")],
    }
    figure = reporting.plot_pareto(groups, selected=(0.82, 0.62, "s0"))
    (axis,) = figure.axes
    teachers, students, ring = axis.collections[:3]
    np.testing.assert_array_equal(teachers.get_offsets(), [(0.8, 0.6), (0.7, 0.65)])
    np.testing.assert_array_equal(students.get_offsets(), [(0.82, 0.62), (0.75, 0.5)])
    square = teachers.get_paths()[0].vertices
    assert len(np.unique(np.round(np.abs(square), 6), axis=0)) == 1  # a square: |x| = |y|
    np.testing.assert_array_equal(ring.get_offsets(), [(0.82, 0.62)])
    assert axis.get_title() == "selected (red ring): s0"
    assert {text.get_text(): text.xy for text in axis.texts}["t1"] == (0.7, 0.65)
    front = axis.get_lines()[0]
    np.testing.assert_array_equal(front.get_xydata()[[0, -1]], [(0.7, 0.65), (0.82, 0.62)])
    _assert_unmanaged(figure)


def test_per_class_recall_draws_one_bar_group_per_role():
    results = {
        "teacher": {"test": {"per_class_recall": [0.9, 0.5, 0.7]}},
        "robust student": {"test": {"per_class_recall": [0.8, 0.6, 0.75]}},
        "dataset": {"train_class_counts": [30, 3, 10]},
    }
    figure = reporting.plot_per_class_recall(results, roles=["teacher", "robust student"])
    (axis,) = figure.axes
    for container, role in zip(axis.containers, ("teacher", "robust student"), strict=True):
        heights = [bar.get_height() for bar in container]
        np.testing.assert_allclose(heights, results[role]["test"]["per_class_recall"])
    assert [label.get_text() for label in axis.get_xticklabels()] == [
        "0\nn=30",
        "1\nn=3",
        "2\nn=10",
    ]
    _assert_unmanaged(figure)


def test_write_run_puts_the_results_their_table_and_the_recall_plot_in_the_workdir(tmp_path):
    split = {key: 0.5 for key, _ in reporting.TABLE_METRICS}
    results = {
        "teacher": {"test": {**split, "per_class_recall": np.array([0.9, 0.5])}},
        "student": {"val": split, "test": {**split, "accuracy": 0.75, "per_class_recall": [1, 0]}},
    }
    table = reporting.write_run(results, str(tmp_path), class_names=["cat", "dog"])
    assert json.loads((tmp_path / "results.json").read_text())["teacher"]["test"][
        "per_class_recall"
    ] == [0.9, 0.5]
    assert (tmp_path / "results.md").read_text() == table == reporting.markdown_table(results)
    assert "| student | test | 0.7500 | 0.5000 |" in table
    assert (tmp_path / "per_class_recall.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "per_class_recall.png",
        "results.json",
        "results.md",
    ]
