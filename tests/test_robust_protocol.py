"""The robust distillation protocol: temperature candidates, multiplier-update interval,
batch sizes, repeated teachers, paired differences and the summary of a partial grid."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from configs import robust_distill as robust_config
from experiments import robust_distill, robust_distill_summary
from tf_robust_distill.grid import Grid, with_overrides
from tf_robust_distill.pipeline.student import temperatures
from tf_robust_distill.pipeline.teacher import teacher_config, teacher_seed
from tf_robust_distill.reporting import format_difference, paired_difference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = (
    "fashion_mnist_lt",
    "fashion_mnist",
    "fashion_mnist_lt_compression",
    "fashion_mnist_lt_resnet",
    "digits_lt",
    "cifar10_lt",
    "cifar100_lt",
    "cifar10",
    "cifar100",
)


def student_config(objective, validation_labels, **objective_kw):
    config = robust_config.get_config("digits_lt")
    return with_overrides(
        config,
        {
            "student.objective": objective,
            "student.validation_labels": validation_labels,
            "student.objective_kw": objective_kw,
        },
    )


@pytest.mark.parametrize("objective", ["std", "bal", "ada_margin", "ada_alpha", "group_dro"])
def test_students_without_teacher_labeled_validation_never_try_temperature_0_1(objective):
    """§6: 0.1 is added "when teacher labels are applied to the validation set"; these
    students read no validation labels, whatever the config's field says."""
    assert temperatures(student_config(objective, "teacher")) == (1.0, 3.0, 5.0)


def test_temperature_0_1_only_with_multipliers_on_teacher_labeled_validation():
    assert temperatures(student_config("rob", "teacher")) == (0.1, 1.0, 3.0, 5.0)
    assert temperatures(student_config("rob", "one_hot")) == (1.0, 3.0, 5.0)
    with_validation = student_config("group_dro", "teacher", use_validation=True)
    assert temperatures(with_validation) == (0.1, 1.0, 3.0, 5.0)
    assert temperatures(student_config("post_shift", "one_hot")) == (1.0, 3.0, 5.0)


def test_table_students_get_the_papers_candidates():
    config = robust_config.get_config("fashion_mnist_lt")
    grid = config.grid
    for cell in robust_distill.table_cells(grid):
        if cell["student"] == robust_distill.TEACHER_ROW or cell["teacher_seed"] != 100:
            continue
        cell_config = with_overrides(config, robust_distill.overrides(cell, grid, None))
        with_0_1 = 0.1 in temperatures(cell_config)
        assert with_0_1 == (cell["student"] == "rob-d (teacher val)"), cell


@pytest.mark.parametrize("variant", VARIANTS)
def test_multipliers_are_updated_every_32_steps_and_batch_sizes_follow_the_appendix(variant):
    config = robust_config.get_config(variant)
    assert config.teacher.dro_update_every == config.student.dro_update_every == 32
    if variant.startswith("cifar"):
        expected = 128 if config.dataset.name == "cifar10" else 1024
        assert config.train.batch_size == expected
        assert config.train.learning_rate == 0.1


def test_the_teacher_seed_names_a_teacher_of_its_own_on_the_same_split():
    config = robust_config.get_config("digits_lt")
    assert teacher_seed(config) == config.seed
    reseeded = with_overrides(config, {"teacher.seed": 7})
    assert teacher_seed(reseeded) == 7
    assert teacher_config(reseeded) != teacher_config(config)
    assert reseeded.seed == config.seed


@pytest.mark.parametrize("n", [2, 5, 9])
def test_paired_difference_matches_the_paired_t_test(n):
    rng = np.random.default_rng(n)
    values, baseline = rng.normal(size=n), rng.normal(size=n)
    mean, stderr = paired_difference(values, baseline)
    assert mean == pytest.approx(np.mean(values - baseline))
    assert mean / stderr == pytest.approx(scipy.stats.ttest_rel(values, baseline).statistic)
    assert format_difference(values, baseline).endswith(f"({n} pairs)")
    with pytest.raises(ValueError, match="paired"):
        paired_difference(values, baseline[:-1])


def _result(worst, balanced):
    row = {"worst1_accuracy": worst, "balanced_accuracy": balanced}
    return {role: {"val": row, "test": row, "temperature": 1.0} for role in ("teacher", "student")}


def test_the_summary_pairs_cells_by_teacher_and_student_seed(tmp_path):
    grid = robust_config.get_config("fashion_mnist_lt").grid
    rob_d, std_d = {}, {}
    records = []
    for seed in (100, 101):
        for repeat in (0, 1):
            rob_d[seed, repeat] = 0.5 + 0.1 * seed / 100 + 0.01 * repeat
            std_d[seed, repeat] = 0.2 + 0.1 * seed / 100
            for student, scores in (("rob-d (one-hot val)", rob_d), ("std-d", std_d)):
                teacher = "rob" if student.startswith("rob") else "std"
                cell = {
                    "part": "table",
                    "teacher": teacher,
                    "teacher_seed": seed,
                    "student": student,
                    "repeat": repeat,
                }
                records.append((cell, _result(scores[seed, repeat], 0.8)))
    # Unpaired: a std-d cell of another teacher seed only.
    extra = {"part": "table", "teacher": "std", "teacher_seed": 102, "student": "std-d"}
    records.append(({**extra, "repeat": 0}, _result(0.9, 0.8)))
    text = robust_distill_summary.summary(records, grid, str(tmp_path))
    keys = sorted(rob_d)
    expected = format_difference([rob_d[k] for k in keys], [std_d[k] for k in keys])
    assert f"rob/rob-d (one-hot val) − std/std-d | {expected}" in text
    assert "not run" in text


def test_the_update_intervals_are_compared_with_the_reference_pair_by_pair(tmp_path):
    grid = robust_config.get_config("fashion_mnist_lt").grid
    student = grid.dro_students[0]
    reference = grid.dro_update_every_reference
    values = {8: (0.61, 0.55, 0.66), reference: (0.52, 0.54, 0.58)}
    worst = {}
    records = []
    for every in (8, reference):
        for seed, value in zip((100, 101, 102), values[every], strict=True):
            worst[every, seed] = value
            cell = {
                "part": "dro_update_every",
                "dro_update_every": every,
                "teacher": grid.dro_teacher,
                "teacher_seed": seed,
                "student": student,
                "repeat": 0,
            }
            records.append((cell, _result(worst[every, seed], 0.8)))
    text = robust_distill_summary.dro_update_differences(records, grid)
    seeds = (100, 101, 102)
    a = np.array([worst[8, s] for s in seeds])
    b = np.array([worst[reference, s] for s in seeds])
    p_value = scipy.stats.ttest_rel(a, b).pvalue
    expected = f"{format_difference(a, b)}, p = {p_value:.3f}"
    assert f"every 8 steps − every 32 steps | {student} | {expected}" in text


def test_cells_without_a_teacher_seed_are_refused():
    old = {"part": "table", "teacher": "std", "student": "std-d", "repeat": 0}
    with pytest.raises(ValueError, match="teacher_seed"):
        robust_distill_summary.check_records([(old, _result(0.1, 0.2))])


def test_report_only_summarizes_a_partial_grid(tmp_path):
    config = robust_config.get_config("digits_lt")
    workdir = tmp_path / "grid"
    grid = Grid(str(workdir), config)
    cells = list(robust_distill.table_cells(config.grid))[:2]
    for cell in cells:
        grid.run(cell, lambda: _result(0.4, 0.7))
    command = [
        sys.executable,
        "-m",
        "experiments.robust_distill",
        "--config=configs/robust_distill.py:digits_lt",
        f"--workdir={workdir}",
        "--report_only",
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = (workdir / "summary.md").read_text()
    assert "0.400 ± 0.000 (1)" in summary and "not run" in summary


def test_the_selected_tradeoff_student_is_paired_with_the_baselines_by_teacher_seed():
    selected = {100: (0.66, 0.82), 101: (0.61, 0.83), 102: (0.70, 0.81)}
    baseline = {100: (0.52, 0.81), 101: (0.50, 0.84), 102: (0.55, 0.80)}
    records = []
    for seed in selected:
        cell = {
            "part": "tradeoff",
            "validation_labels": "one_hot",
            "alpha_t": 0.5,
            "alpha_s": 1.0,
            "teacher_seed": seed,
            "repeat": 0,
        }
        records.append((cell, _result(*selected[seed])))
        for repeat in (0, 1):
            cell = {
                "part": "table",
                "teacher": "std",
                "student": "bal-d",
                "teacher_seed": seed,
                "repeat": repeat,
            }
            records.append((cell, _result(*baseline[seed]) if repeat == 0 else _result(0, 0)))
    grid = robust_config.get_config("fashion_mnist_lt").grid
    rows = robust_distill_summary.comparison_rows(records, grid)
    table = robust_distill_summary.selected_differences(records, (0.5, 1.0), "one_hot", rows)
    seeds = sorted(selected)
    expected = [
        format_difference([selected[s][i] for s in seeds], [baseline[s][i] for s in seeds])
        for i in (0, 1)
    ]
    assert table == [["selected − bal-d", *expected]]
