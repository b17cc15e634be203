"""The command line: quiet logs, one line per stage, --help, progress with an ETA."""

import functools
import logging
import subprocess
import sys

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from absl import logging as absl_logging
from support.processes import ROOT, environment

from configs import distill as distill_config
from experiments import config_help
from tf_robust_distill import grid, progress
from tf_robust_distill.data import teacher_cache
from tf_robust_distill.grid import Grid
from tf_robust_distill.pipeline.checkpointing import TrainingCheckpoint, quiet_checkpoint_logs


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def logged(monkeypatch):
    """The absl INFO lines `progress` logs, formatted."""
    lines = []
    info = lambda message, *args: lines.append(message % args if args else message)  # noqa: E731
    monkeypatch.setattr(progress.logging, "info", info)
    return lines


def test_remaining_seconds_is_the_mean_time_of_a_unit_times_the_units_left():
    rng = np.random.default_rng(0)
    for done, left, elapsed in zip(
        rng.integers(1, 500, 20), rng.integers(0, 500, 20), rng.uniform(0, 1e4, 20), strict=True
    ):
        assert progress.remaining_seconds(done, left, elapsed) == pytest.approx(
            elapsed / done * left
        )
    assert progress.remaining_seconds(0, 10, 5.0) is None


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "?"), (0.4, "0 s"), (7, "7 s"), (185, "3 min 05 s"), (7440, "2 h 04 min")],
)
def test_durations_are_terse(seconds, text):
    assert progress.format_duration(seconds) == text


def test_a_count_logs_at_most_once_per_interval_with_its_eta(logged):
    clock = FakeClock()
    counter = progress.Progress("labels", 10, "batches", every_seconds=10, clock=clock)
    for now in (4.0, 12.0, 15.0, 30.0):
        clock.now = now
        counter.update()
    assert logged == [
        f"labels: 2/10 batches, 12 s so far, ETA {progress.format_duration(12 / 2 * 8)}",
        f"labels: 4/10 batches, 30 s so far, ETA {progress.format_duration(30 / 4 * 6)}",
    ]


def test_a_bulk_inference_counts_its_batches_out_of_the_total(logged, monkeypatch):
    every_batch = functools.partial(progress.Progress, every_seconds=0)
    monkeypatch.setattr(teacher_cache, "Progress", every_batch)
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(10, np.int64)))
    values, _ = teacher_cache.bulk_inference(lambda v: 2 * v, dataset, 3, ("labels", 10))
    np.testing.assert_array_equal(values, 2 * x)
    counts = [line.split(",")[0] for line in logged]
    assert counts == [f"labels: {done}/4 batches" for done in range(1, 5)]


def test_a_grid_logs_each_computed_cell_and_the_eta_of_the_cells_left(
    tmp_path, logged, monkeypatch
):
    clock = FakeClock()
    monkeypatch.setattr(grid, "GridProgress", functools.partial(progress.GridProgress, clock=clock))
    cells = [{"n": 1}, {"n": 2}, {"n": 3}]
    store = Grid(str(tmp_path))
    store.run(cells[0], lambda: 0)
    seconds = {2: 10.0, 3: 30.0}

    def compute(cell):
        clock.now += seconds[cell["n"]]
        return cell["n"]

    store.run_all(cells, compute)
    assert logged == [
        "grid: 3 cells, 1 stored, 2 to compute",
        "[2/3] {'n': 2}",
        f"[2/3] done in 10 s; 1 cells left to compute, ETA {progress.format_duration(10.0)}",
        "[3/3] {'n': 3}",
        f"[3/3] done in 30 s; 0 cells left to compute, ETA {progress.format_duration(0.0)}",
    ]
    assert [store.result(cell) for cell in cells] == [0, 2, 3]


def test_checkpoints_log_no_info_line_and_warnings_still_pass(tmp_path):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger, verbosity = absl_logging.get_absl_logger(), absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    logger.addHandler(handler)
    try:
        tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "raw" / "ckpt"))
        assert any("Sharding callback" in r.getMessage() for r in records)  # the source logs
        records.clear()
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        checkpoint = TrainingCheckpoint(model, str(tmp_path / "ckpt"))
        checkpoint.save(0, {"loss": 1.0})
        assert checkpoint.restore() == 1
        assert not [r.getMessage() for r in records if r.levelno < logging.WARNING]
        with quiet_checkpoint_logs():
            absl_logging.warning("a warning during a save")
        assert [r.getMessage() for r in records] == ["a warning during a save"]
    finally:
        logger.removeHandler(handler)
        absl_logging.set_verbosity(verbosity)


def _resolve(config, name):
    return functools.reduce(lambda section, key: section[key], name.split("."), config)


def test_the_help_lists_every_field_with_its_default_and_its_comment():
    config = distill_config.get_config()
    listed = dict(config_help.fields(config))
    for name, value in listed.items():
        resolved = _resolve(config, name)
        if isinstance(resolved, ml_collections.ConfigDict):
            resolved = resolved.to_dict()
        assert value == repr(resolved)
    assert {name.split(".")[0] for name in listed} == set(config.keys())
    assert {"teacher.net", "teacher.path", "train.epochs", "student.teacher_top_k"} <= set(listed)
    comments = config_help.field_comments(distill_config)
    assert comments["teacher.path"].startswith("A .keras file of a trained teacher")
    assert comments["teacher.net_options"] == "e.g. hidden_sizes for mlp"
    text = config_help.fields_help(distill_config)
    assert "  train.epochs = 30\n" in text and "      A .keras file of a trained teacher" in text


def _run(*arguments):
    command = [sys.executable, "-m", *arguments]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=environment()
    )


@pytest.mark.slow  # processes
@pytest.mark.parametrize(
    "experiment, expected",
    [
        ("distill", ["teacher.net = 'mlp'", "train.epochs = 30", "teacher.path = None"]),
        ("robust_distill", ["--workdir", "--config", "grid.repeats = 3", "teacher.net = 'mlp'"]),
    ],
)
def test_help_shows_the_config_fields(experiment, expected):
    completed = _run(f"experiments.{experiment}", "--help")  # absl exits with 1 after it
    assert "Try --helpfull" in completed.stdout, completed.stderr[-2000:]
    for text in expected:
        assert text in completed.stdout


@pytest.mark.slow  # a whole job, in a fresh process
def test_the_job_logs_its_stages_and_neither_checkpoint_info_nor_retracing(tmp_path):
    """Three candidate temperatures: a teacher and three students evaluated in one process,
    which made ``model.predict`` log retracing warnings."""
    workdir = tmp_path / "run"
    completed = _run(
        "experiments.distill",
        "--config=configs/distill.py:demo",
        f"--workdir={workdir}",
        "--config.train.epochs=2",
        "--config.student.temperature=auto",
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout + completed.stderr
    assert "Sharding callback" not in output
    assert "retracing" not in output
    assert "shuffle" not in output
    stages = [line.split("] == ", 1)[1] for line in output.splitlines() if "] == " in line]
    assert [stage.split(":")[0] for stage in stages] == [
        "teacher",
        "teacher labels",
        "student",
        "student",
        "student",
        "evaluation",
    ]
    assert [stage.split("temperature ")[1].split(",")[0] for stage in stages[2:5]] == [
        "1.0",
        "3.0",
        "5.0",
    ]
    assert output.splitlines()[-1].endswith(f"results written to {workdir / 'results.json'}")
