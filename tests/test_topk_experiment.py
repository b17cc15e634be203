"""The top-k teacher-label experiment at its smoke size, and the main job's top-k option."""

import os

import pytest

from configs import topk_labels as topk_config
from experiments import topk_labels as experiment
from tf_robust_distill import data, pipeline
from tf_robust_distill.grid import Grid, with_overrides
from tf_robust_distill.pipeline.cache_paths import CACHE_DIRECTORY


def _smoke(**grid):
    config = topk_config.get_config("smoke")
    config.grid.top_k = (1, topk_config.DENSE)
    config.grid.update(grid)
    return config


@pytest.mark.slow  # four main jobs on digits
def test_smoke_grid_caches_one_label_file_per_k_and_summarizes_every_cell(tmp_path, monkeypatch):
    config = _smoke()
    summary = experiment.run_grid(config, str(tmp_path))
    records = Grid(str(tmp_path)).records()
    assert len(records) == len(experiment.planned_cells(config.grid)) == 4
    (teacher_dir,) = [
        os.path.join(tmp_path, "runs", name)
        for name in os.listdir(tmp_path / "runs")
        if name.startswith("teacher-")
    ]
    caches = sorted(os.listdir(os.path.join(teacher_dir, CACHE_DIRECTORY)))
    assert caches == sorted(
        f"{split}{suffix}.npz" for split in ("train", "val", "test") for suffix in ("", "_top1")
    )
    top1 = data.TopKTeacherLabels.load(os.path.join(teacher_dir, CACHE_DIRECTORY, "train_top1.npz"))
    dense = data.TeacherLabels.load(os.path.join(teacher_dir, CACHE_DIRECTORY, "train.npz"))
    assert (top1.argmax() == dense.argmax()).all()
    for cell, result in records:
        expected = top1 if cell["labels"] == 1 else dense
        assert result["cache_bytes"] == os.path.getsize(
            os.path.join(
                teacher_dir, CACHE_DIRECTORY, "train_top1.npz" if expected is top1 else "train.npz"
            )
        )
        assert 0.0 <= result["student"]["test"]["worst1_accuracy"] <= 1.0
    assert summary.count("| top-1 |") == 2 and summary.count("| dense |") == 2

    def no_run(*args, **kwargs):
        raise AssertionError("a stored cell ran again")

    monkeypatch.setattr(pipeline, "run", no_run)
    assert experiment.run_grid(config, str(tmp_path)) == summary


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"student.teacher_top_k": 11}, r"student.teacher_top_k: top_k must be None .* \[1, 10\]"),
        ({"student.teacher_top_k": 0}, r"student.teacher_top_k: top_k must be None"),
        (
            {"student.teacher_top_k": 3, "student.online_teacher": True},
            "student.online_teacher runs the teacher in the step",
        ),
    ],
)
def test_a_bad_top_k_fails_before_anything_is_written(tmp_path, overrides, match):
    config = with_overrides(topk_config.get_config("smoke"), overrides)
    with pytest.raises(ValueError, match=match):
        pipeline.run(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_every_cell_is_a_valid_job_config():
    config = topk_config.get_config("local")
    cells = experiment.planned_cells(config.grid)
    assert len(cells) == 2 * 5 * 2 * 2
    top_ks = {experiment.cell_config(config, cell).student.teacher_top_k for cell in cells}
    assert top_ks == {None, 1, 3, 5, 10}
    for cell in cells:
        pipeline.job.check(experiment.cell_config(config, cell))
