"""A run killed with SIGKILL mid-epoch and restarted ends as an uninterrupted run does.

The killed runs are subprocesses (tests/support/resume_worker.py) that SIGKILL themselves at a
given role, epoch and batch; the uninterrupted run of the same job runs in this process.
Deterministic ops are on (the configs' default).
"""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import resume_worker
from support.keras_files import assert_same_arrays
from support.processes import environment, worker_script
from support.tiny import NUM_CLASSES, tiny_net

from tf_robust_distill import data
from tf_robust_distill.objectives.balanced import class_priors_from_probs
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel
from tf_robust_distill.pipeline import checkpointing

pytestmark = pytest.mark.slow  # worker processes and whole jobs


def run_worker(job, workdir, kill=None):
    """Run resume_worker.py; returns its exit code (-SIGKILL when it killed itself)."""
    command = [sys.executable, worker_script("resume_worker.py"), job, str(workdir)]
    command += [str(value) for value in kill or ()]
    completed = subprocess.run(
        command, env=environment(), capture_output=True, text=True, timeout=600
    )
    assert completed.returncode in (0, -signal.SIGKILL), completed.stderr[-3000:]
    return completed.returncode


def results_without_timings(workdir):
    with open(os.path.join(workdir, "results.json")) as handle:
        results = json.load(handle)
    results.pop("seconds")
    return results


def epochs_begun(workdir):
    with open(os.path.join(workdir, "epochs.log")) as handle:
        return [line.rsplit(" ", 1) for line in handle.read().splitlines()]


def loaded(path):
    """The model saved at `path`, loaded back (its state variables by attribute)."""
    return keras.saving.load_model(str(path))


def test_resume_after_sigkill_mid_epoch_main_job(tmp_path, monkeypatch):
    """SoTeacher teacher killed in epoch 1, robust student killed in epoch 1: the same end."""
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    resumed.mkdir()
    assert run_worker("main", resumed, ("teacher", 1, 2)) == -signal.SIGKILL
    assert run_worker("main", resumed, ("student", 1, 3)) == -signal.SIGKILL
    assert run_worker("main", resumed) == 0
    resume_worker.install(str(reference), replace=monkeypatch.setattr)
    resume_worker.run_main(str(reference))

    assert epochs_begun(resumed) == [
        ["teacher", "0"],
        ["teacher", "1"],  # killed
        ["teacher", "1"],
        ["teacher", "2"],
        ["student", "0"],
        ["student", "1"],  # killed
        ["student", "1"],
        ["student", "2"],
    ]
    assert results_without_timings(resumed) == results_without_timings(reference)
    assert_same_arrays(resumed / "teacher.keras", reference / "teacher.keras")
    assert_same_arrays(resumed / "student.keras", reference / "student.keras")
    counts = np.asarray(loaded(resumed / "teacher.keras").prediction_count)
    np.testing.assert_array_equal(counts, 3)  # SoTeacher's buffer averaged all 3 epochs
    multipliers = np.asarray(loaded(resumed / "student.keras").multipliers.current())
    assert np.ptp(multipliers) > 1e-3  # λ moved
    assert not os.path.exists(resumed / "checkpoints")


def test_resume_after_sigkill_mid_epoch_unlabeled_job(tmp_path, monkeypatch):
    """A weighted student (weights before training and after epoch 2) killed in epoch 1."""
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    reference.mkdir()
    resumed.mkdir()
    assert run_worker("unlabeled", resumed, ("student (weighted)", 1, 2)) == -signal.SIGKILL
    assert run_worker("unlabeled", resumed) == 0
    resume_worker.install(str(reference), replace=monkeypatch.setattr)
    resume_worker.run_unlabeled(str(reference))

    distillation = [epoch for role, epoch in epochs_begun(resumed) if role == "student (weighted)"]
    assert distillation == ["0", "1", "1", "2"]
    expected = results_without_timings(reference)
    assert results_without_timings(resumed) == expected
    assert len(expected["test_accuracy_per_epoch"]) == 3  # restored epochs' logs included
    assert_same_arrays(resumed / "student.keras", reference / "student.keras")
    weights = np.asarray(loaded(resumed / "student.keras").debiasing_weights.values)
    assert weights.min() < 1.0  # estimated weights, not the initial ones
    assert os.listdir(resumed / "runs") == os.listdir(reference / "runs")


class StopAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt when `epoch`'s batch `batch` begins (an in-process kill)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.stop_at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.stop_at:
            raise KeyboardInterrupt


def test_resume_under_mirrored_strategy_sees_the_same_batches(two_cpu_strategy, tmp_path):
    """Two replicas: a fit interrupted in epoch 2 and resumed ends as an uninterrupted one.

    λ is updated every 3 steps from optimizer.iterations (7 steps an epoch), so the
    update schedule and the data of every epoch must both resume where they were.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 5)).astype(np.float32)
    labels = (np.arange(50) % NUM_CLASSES).astype(np.int32)
    train = tf.data.Dataset.from_tensor_slices((x, labels))
    validation = data.evaluation_pipeline(train.take(21), 8)

    def fit(directory, callbacks=()):
        with two_cpu_strategy.scope():
            model = RobustModel(
                tiny_net(),
                class_priors=class_priors_from_probs(np.eye(NUM_CLASSES)[labels]),
                step_size=2.0,
            )
            model.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9))
        history = checkpointing.fit_resumably(
            model,
            lambda initial_epoch: data.training_pipeline(
                train, 8, seed=4, epochs=4, initial_epoch=initial_epoch
            ),
            str(directory),
            role="student",
            epochs=4,
            steps_per_epoch=7,
            callbacks=[MultiplierUpdate(validation, every_n_steps=3), *callbacks],
            verbose=0,
        )
        return model, history

    whole, whole_history = fit(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "resumed", [StopAt(2, 4)])
    resumed, resumed_history = fit(tmp_path / "resumed")
    assert np.ptp(np.asarray(whole.multipliers.current())) > 1e-3
    for a, b in zip(whole.variables, resumed.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(
        np.asarray(whole.optimizer.iterations), np.asarray(resumed.optimizer.iterations)
    )
    assert resumed_history == whole_history and len(whole_history["loss"]) == 4
    assert not os.path.exists(tmp_path / "resumed")
