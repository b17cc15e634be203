"""The workdir is single-writer and all-or-nothing: a lock held for a job's life, a new
teacher stored as one unit, a student and its results published together."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support.processes import ROOT, environment
from support.tiny import tiny_net

from configs import distill as distill_config
from tf_robust_distill import files, pipeline, reporting
from tf_robust_distill.pipeline import checkpointing, teacher, workdir_lock

METRICS = ("accuracy", "balanced_accuracy", "worst1_accuracy", "worstk_accuracy", "ece", "nll")
RESULTS = {"teacher": {"test": {**dict.fromkeys(METRICS, 0.5), "per_class_recall": [0.5, 0.5]}}}


# One job per workdir.


def test_a_second_lock_on_a_workdir_fails_at_once_naming_the_holder(tmp_path):
    with workdir_lock.locked(str(tmp_path)):
        with pytest.raises(RuntimeError, match=rf"in use by another job \(pid {os.getpid()}\)"):
            with workdir_lock.locked(str(tmp_path)):
                pass
    with workdir_lock.locked(str(tmp_path)):  # released when the block ended
        pass
    with pytest.raises(KeyError), workdir_lock.locked(str(tmp_path)):
        raise KeyError("a job that fails")
    with workdir_lock.locked(str(tmp_path), shared=str(tmp_path)):  # one directory, one lock
        pass


@pytest.mark.slow  # two processes
def test_a_second_job_on_a_workdir_in_use_fails_fast_and_a_killed_holder_frees_it(tmp_path):
    hold = (
        "import sys, time; from tf_robust_distill.pipeline import workdir_lock\n"
        f"with workdir_lock.locked({str(tmp_path / 'run')!r}):\n"
        "    print('locked', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], cwd=ROOT, env=environment(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        config = distill_config.get_config("demo")
        config.verbose = 0
        with pytest.raises(RuntimeError, match=rf"in use by another job \(pid {holder.pid}\)"):
            pipeline.run(config, str(tmp_path / "run"))
        assert os.listdir(tmp_path / "run") == []
    finally:
        holder.kill()
        holder.wait()
    with workdir_lock.locked(str(tmp_path / "run")):  # SIGKILL released it
        pass


# A student and its results are published together.


def _model_file(path):
    return path.read_bytes() if path.exists() else None


def _publish(workdir, seed):
    reporting.write_run(
        {**RESULTS, "seed": seed}, str(workdir), models={"student.keras": tiny_net(seed).save}
    )


def test_a_full_disk_while_writing_results_keeps_the_previous_pair(tmp_path, monkeypatch):
    _publish(tmp_path, seed=1)
    before = {name: (tmp_path / name).read_bytes() for name in ("student.keras", "results.json")}

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "write_json", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        _publish(tmp_path, seed=2)
    after = {name: (tmp_path / name).read_bytes() for name in before}
    assert after == before
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".partial-")]


def test_a_crash_between_the_renames_leaves_no_results_beside_a_new_model(tmp_path, monkeypatch):
    _publish(tmp_path, seed=1)
    replace = os.replace

    def crash_on_results(source, destination):
        if os.path.basename(destination) == "results.json":
            raise KeyboardInterrupt("killed between the renames")
        replace(source, destination)

    monkeypatch.setattr(os, "replace", crash_on_results)
    with pytest.raises(KeyboardInterrupt):
        _publish(tmp_path, seed=2)
    assert not (tmp_path / "results.json").exists()
    monkeypatch.setattr(os, "replace", replace)
    _publish(tmp_path, seed=3)
    assert json.loads((tmp_path / "results.json").read_text())["seed"] == 3


def test_a_run_without_a_student_removes_the_previous_runs_student(tmp_path):
    _publish(tmp_path, seed=1)
    reporting.write_run(RESULTS, str(tmp_path), models={"student.keras": None})
    assert not (tmp_path / "student.keras").exists()
    assert json.loads((tmp_path / "results.json").read_text()) == RESULTS


# A new teacher replaces the stored one as one unit.


def _stored(directory, seed):
    """A teacher stored by `teacher.store_teacher`, with a label cache beside it."""
    model = tiny_net(seed)
    teacher.store_teacher(model, {"seed": seed}, str(directory))
    files.write_npz(str(directory / "teacher_labels" / "train.npz"), logits=np.zeros((2, 3)))
    return model


def _stored_key(directory):
    path = directory / teacher.CONFIG_FILE
    return json.loads(path.read_text()) if path.exists() else None


def test_a_retrained_teacher_replaces_model_config_and_label_caches_together(tmp_path):
    _stored(tmp_path, seed=1)
    teacher.store_teacher(tiny_net(2), {"seed": 2}, str(tmp_path))
    assert _stored_key(tmp_path) == {"seed": 2}
    assert not (tmp_path / "teacher_labels").exists()
    stored = checkpointing.load_model(str(tmp_path / teacher.MODEL_FILE), "delete it")
    for weight, expected in zip(stored.weights, tiny_net(2).weights, strict=True):
        np.testing.assert_array_equal(weight.numpy(), expected.numpy())


@pytest.mark.parametrize("crash", ["while saving the model", "before the config is renamed"])
def test_a_teacher_stored_halfway_never_pairs_one_teachers_config_with_another(
    tmp_path, monkeypatch, crash
):
    _stored(tmp_path, seed=1)
    new = tiny_net(2)
    if crash == "while saving the model":

        def full_disk(path):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(new, "save", full_disk)
    else:
        replace = os.replace

        def crash_on_config(source, destination):
            if os.path.basename(destination) == teacher.CONFIG_FILE:
                raise KeyboardInterrupt("killed")
            replace(source, destination)

        monkeypatch.setattr(os, "replace", crash_on_config)
    with pytest.raises((OSError, KeyboardInterrupt)):
        teacher.store_teacher(new, {"seed": 2}, str(tmp_path))
    key = _stored_key(tmp_path)
    if crash == "while saving the model":  # nothing replaced
        assert key == {"seed": 1} and (tmp_path / "teacher_labels" / "train.npz").exists()
    else:  # no config: the next run retrains, and no old label cache is left to refuse it
        assert key is None and not (tmp_path / "teacher_labels").exists()
