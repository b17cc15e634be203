"""Experiment plumbing: config overrides, Pareto fronts, the paper's selection rule."""

import itertools

import numpy as np
import pytest
import scipy.stats

from configs import robust_distill as robust_config
from configs import soteacher as soteacher_config
from experiments import robust_distill, robust_distill_summary, soteacher
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.pipeline import job
from tf_robust_distill.reporting import (
    format_difference,
    format_mean,
    mean_and_stderr,
    pareto_front,
)


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
    cell = {"part": "table", "teacher": "std", "teacher_seed": 0, "student": "std-d", "repeat": 0}
    records = [(cell, _result(0.30, 0.80))]
    values = {(0.0, 0.0): (0.50, 0.79), (0.0, 1.0): (0.45, 0.81), (1.0, 1.0): (0.40, 0.85)}
    points = {key: [_result(*v)] for key, v in values.items()}
    assert robust_distill_summary.selection(records, points) == (0.0, 1.0)
    assert robust_distill_summary.selection([], points) is None


def test_grid_cells_cover_the_table_the_tradeoff_grid_and_the_update_intervals():
    grid = robust_config.get_config("fashion_mnist_lt").grid
    seeds = len(grid.teacher_seeds)
    assert seeds >= 3
    table = list(robust_distill.table_cells(grid))
    students = len(grid.table_students) * grid.repeats + 1
    assert len(table) == (len(grid.table_teachers) * students + len(grid.baselines)) * seeds
    assert {c["teacher_seed"] for c in table} == set(grid.teacher_seeds)
    tradeoff = list(robust_distill.tradeoff_cells(grid))
    alphas, variants = len(grid.alphas), len(grid.tradeoff_validation_labels)
    assert len(tradeoff) == seeds * alphas * (1 + variants * alphas * grid.tradeoff_repeats)
    expected = set(itertools.product(grid.tradeoff_validation_labels, grid.alphas, grid.alphas))
    students = {
        (c["validation_labels"], c["alpha_t"], c["alpha_s"])
        for c in tradeoff
        if c["alpha_s"] != "teacher"
    }
    assert students == expected
    intervals = list(robust_distill.dro_update_every_cells(grid))
    assert {c["dro_update_every"] for c in intervals} == {8, 32, 128, None}
    every = [*table, *tradeoff, *intervals]
    assert all("teacher_seed" in c for c in every)
    assert len({robust_distill.cell_key(c) for c in every}) == len(every)


@pytest.mark.parametrize("variant", ["fashion_mnist_lt", "fashion_mnist_lt_resnet", "digits_lt"])
def test_every_robust_cell_is_a_valid_job_config(variant):
    """Each cell's overrides give the job a config it accepts: objectives of the right role,
    options their constructors take, validation labels of each table student, the
    teacher's seed, the interval of the multiplier updates."""
    config = robust_config.get_config(variant)
    grid = config.grid
    assert set(grid.table_students) <= set(grid.students)
    assert {*grid.table_teachers, *grid.baselines} <= set(grid.teachers)
    cells = [
        *robust_distill.table_cells(grid),
        *robust_distill.tradeoff_cells(grid),
        *robust_distill.dro_update_every_cells(grid),
    ]
    for cell in cells:
        cell_config = with_overrides(config, robust_distill.overrides(cell, grid, None))
        job.check(cell_config)
        assert cell_config.teacher.seed == cell["teacher_seed"]
        assert cell_config.student.seed == cell["repeat"]
        if cell["part"] != "tradeoff" and cell["student"] != robust_distill.TEACHER_ROW:
            student = grid.students[cell["student"]]
            assert cell_config.student.objective == student.objective
            assert cell_config.student.validation_labels == student.validation_labels
        if cell["part"] == "tradeoff":
            assert cell_config.teacher.objective_kw.alpha == cell["alpha_t"]
            assert cell_config.student.temperature == "auto"
        every = cell.get("dro_update_every", robust_config.DRO_UPDATE_EVERY)
        assert cell_config.teacher.dro_update_every == every
        assert cell_config.student.dro_update_every == every


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


def test_soteacher_arms_are_paired_by_seed_with_the_standard_teacher_and_the_cached_twin():
    grid = soteacher_config.get_config("cnn_local").grid
    names = [
        soteacher.arm_name({"teacher": t, **arm})
        for t in grid.teachers
        for arm in soteacher.arms(grid, t)
    ]
    rng = np.random.default_rng(0)
    records, student = [], {}
    for name in ("std cached", "std online", "soteacher entrywise online"):
        teacher, *rest = name.split(" ")
        arm = {"online_teacher": rest[-1] == "online"}
        if rest[:-1]:
            arm["lipschitz_convolution"] = rest[0]
        for seed in (0, 1, 2):
            student[name, seed] = rng.uniform(0.7, 0.8)
            result = {
                "teacher": {
                    "test": {
                        k: 0.5
                        for k in (
                            "accuracy",
                            "ece",
                            "ece_after_scaling",
                            "nll",
                            "nll_after_scaling",
                        )
                    }
                },
                "student": {"test": {"accuracy": student[name, seed]}},
                "agreement": {"test": 0.9},
            }
            records.append(({"part": "main", "teacher": teacher, **arm, "seed": seed}, result))
    rows = {row[0]: row for row in soteacher.paired_rows(records, names)}
    assert set(rows) == {
        "std online − std cached",
        "soteacher entrywise online − std online",
    }
    a = [student["soteacher entrywise online", s] for s in (0, 1, 2)]
    b = [student["std online", s] for s in (0, 1, 2)]
    p = scipy.stats.ttest_rel(a, b).pvalue
    expected = f"{format_difference(a, b, 4)}, p = {p:.3f}"
    assert rows["soteacher entrywise online − std online"][2] == expected
