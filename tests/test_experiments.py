"""Experiment plumbing: config overrides, Pareto fronts, the paper's selection rule."""

import itertools

import numpy as np
import pytest

from configs import robust_distill as robust_config
from configs import soteacher as soteacher_config
from experiments import robust_distill, soteacher
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.pipeline import job
from tf_robust_distill.reporting import format_mean, mean_and_stderr, pareto_front


def test_with_overrides_may_change_a_fields_type_and_refuses_unknown_fields():
    config = robust_config.get_config("digits_lt")
    assert config.student.temperature == "auto"
    changed = with_overrides(
        config, {"student.temperature": 3.0, "teacher.objective_kw": {"alpha": 0.25}}
    )
    assert changed.student.temperature == 3.0 and changed.teacher.objective_kw.alpha == 0.25
    assert config.student.temperature == "auto"
    with pytest.raises(KeyError, match="student.temprature"):
        with_overrides(config, {"student.temprature": 3.0})


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(0)
    points = rng.integers(0, 6, size=(40, 2)).astype(float)
    expected = {
        i for i, p in enumerate(points) if not any((q >= p).all() and (q > p).any() for q in points)
    }
    front = pareto_front(points)
    assert set(front) == expected
    assert list(points[front, 0]) == sorted(points[front, 0])


def test_mean_and_stderr():
    values = [0.2, 0.4, 0.9]
    mean, stderr = mean_and_stderr(values)
    assert mean == pytest.approx(0.5)
    assert stderr == pytest.approx(np.std(values, ddof=1) / np.sqrt(3))
    assert format_mean([0.5]) == "0.5000 ± 0.0000 (1)"


def _result(val_worst, val_balanced, test_worst=0.0, test_balanced=0.0):
    row = {"worst1_accuracy": val_worst, "balanced_accuracy": val_balanced}
    test = {"worst1_accuracy": test_worst, "balanced_accuracy": test_balanced}
    return {"student": {"val": row, "test": test}, "teacher": {"val": row, "test": test}}


def test_selection_rule_takes_the_best_worst_class_above_standard_distillation():
    """Highest validation worst-class accuracy among points at least as accurate as std-d."""
    records = [
        ({"part": "table", "teacher": "std", "student": "std-d", "repeat": 0}, _result(0.30, 0.80))
    ]
    values = {(0.0, 0.0): (0.50, 0.79), (0.0, 1.0): (0.45, 0.81), (1.0, 1.0): (0.40, 0.85)}
    points = {key: [_result(*v)] for key, v in values.items()}
    assert robust_distill.selection(records, points) == (0.0, 1.0)
    assert robust_distill.selection([], points) is None


def test_grid_cells_cover_the_table_and_the_tradeoff_grid():
    grid = robust_config.get_config("fashion_mnist_lt").grid
    table = list(robust_distill.table_cells(grid))
    students = len(grid.table_students) * grid.repeats + 1
    assert len(table) == len(grid.table_teachers) * students
    tradeoff = list(robust_distill.tradeoff_cells(grid))
    alphas = len(grid.alphas)
    assert len(tradeoff) == alphas + alphas**2 * grid.tradeoff_repeats
    expected = set(itertools.product(grid.alphas, grid.alphas))
    assert {(c["alpha_t"], c["alpha_s"]) for c in tradeoff if c["alpha_s"] != "teacher"} == expected


@pytest.mark.parametrize("variant", ["fashion_mnist_lt", "digits_lt"])
def test_every_robust_cell_is_a_valid_job_config(variant):
    """Each cell's overrides give the job a config it accepts: objectives of the right role,
    options their constructors take, validation labels of each table student."""
    config = robust_config.get_config(variant)
    grid = config.grid
    assert set(grid.table_students) <= set(grid.students)
    cells = [*robust_distill.table_cells(grid), *robust_distill.tradeoff_cells(grid)]
    for cell in cells:
        cell_config = with_overrides(config, robust_distill.overrides(cell, grid, None))
        job.check(cell_config)
        if cell["part"] == "table" and cell["student"] != robust_distill.TEACHER_ROW:
            student = grid.students[cell["student"]]
            assert cell_config.student.objective == student.objective
            assert cell_config.student.validation_labels == student.validation_labels
        if cell["part"] == "tradeoff":
            assert cell_config.teacher.objective_kw.alpha == cell["alpha_t"]


def test_soteacher_cells_give_each_teacher_the_options_it_reads():
    config = soteacher_config.get_config("local")
    configs = {}
    for cell in soteacher.cells(config.grid):
        cell_config = soteacher.cell_config(config, cell)
        job.check(cell_config)
        configs[cell_config.teacher.objective, cell.get("consistency_schedule")] = cell_config
    assert configs["std", None].teacher.objective_kw.to_dict() == {}
    assert "lipschitz_weight" not in configs["soteacher_no_lr", None].teacher.objective_kw
    assert configs["soteacher_no_cr", None].teacher.objective_kw.lipschitz_weight == 1e-5
    assert configs["soteacher", "cosine"].teacher.objective_kw.schedule == "cosine"
