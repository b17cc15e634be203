"""The main job end to end: teacher -> cached labels -> student -> results.json."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tf_robust_distill as trd
from configs import distill as distill_config
from tf_robust_distill import pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRIC_KEYS = {
    "accuracy",
    "balanced_accuracy",
    "worst1_accuracy",
    "worstk_accuracy",
    "per_class_recall",
    "ece",
    "nll",
}


def _npz(path, seed=0):
    """Three Gaussian classes in 6 dimensions, a test set and no validation set."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(3, 6))

    def sample(n):
        y = rng.integers(0, 3, n)
        return (means[y] + rng.normal(size=(n, 6))).astype(np.float32), y.astype(np.int64)

    x_train, y_train = sample(240)
    x_test, y_test = sample(120)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


@pytest.mark.slow  # a whole job, in a fresh process
def test_main_job_on_an_npz_dataset_writes_a_complete_results_json(tmp_path):
    data_path = tmp_path / "data.npz"
    _npz(data_path)
    workdir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "experiments.distill",
        "--config=configs/distill.py",
        f"--workdir={workdir}",
        f"--config.dataset.name=npz:{data_path}",
        "--config.dataset.imbalance_ratio=4",
        "--config.teacher.net=mlp",
        "--config.student.net=mlp",
        "--config.student.objective=kd",
        "--config.train.epochs=3",
        "--config.verbose=0",
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((workdir / "results.json").read_text())
    for role in ("teacher", "student"):
        for split in ("val", "test"):
            assert METRIC_KEYS <= set(results[role][split])
            assert len(results[role][split]["per_class_recall"]) == 3
    assert set(results["agreement"]) == {"val", "test"}
    assert results["config"]["student"]["objective"] == "kd"
    assert results["dataset"]["val_size"] + results["dataset"]["test_size"] == 120
    original_counts = np.bincount(np.load(data_path)["y_train"], minlength=3)
    expected_counts = trd.data.long_tail_counts(original_counts, 4)
    np.testing.assert_array_equal(results["dataset"]["train_class_counts"], expected_counts)
    assert (workdir / "per_class_recall.png").stat().st_size > 0
    table = (workdir / "results.md").read_text()
    assert f"{results['student']['test']['accuracy']:.4f}" in table
    assert f"{results['teacher']['test']['accuracy']:.4f}" in completed.stdout

    splits = trd.data.load(f"npz:{data_path}", imbalance_ratio=4)
    student = keras.models.load_model(workdir / "student.keras")
    probs = student.predict(trd.data.evaluation_pipeline(splits.test, 64), verbose=0)
    recomputed = trd.metrics.worst_k_accuracy(splits.test_labels, probs, 3)
    assert results["student"]["test"]["worst1_accuracy"] == pytest.approx(recomputed)


def _digits_config(**overrides):
    config = distill_config.get_config("demo")
    config.dataset.imbalance_ratio = None
    config.train.epochs = 25
    config.verbose = 0
    config.update_from_flattened_dict(overrides)
    return config


@pytest.mark.slow  # a whole job
def test_standard_teacher_on_balanced_digits_is_accurate_and_distills(tmp_path):
    job = pipeline.run(_digits_config(), str(tmp_path))
    results = job.results
    assert results["teacher"]["test"]["accuracy"] > 0.90
    assert results["student"]["test"]["accuracy"] > 0.90
    assert results["agreement"]["test"] > 0.90
    labels = trd.data.TeacherLabels.load(tmp_path / "teacher_labels" / "train.npz")
    assert labels.num_examples == results["dataset"]["train_size"]
    # The job returns the teacher's labels it cached, fingerprint included.
    for split in ("train", "val", "test"):
        returned = job.context.teacher_labels[split]
        stored = trd.data.TeacherLabels.load(tmp_path / "teacher_labels" / f"{split}.npz")
        np.testing.assert_array_equal(returned.logits, stored.logits)
        assert returned.fingerprint == stored.fingerprint != ""

    teacher_time = os.path.getmtime(tmp_path / "teacher.keras")
    again = pipeline.run(_digits_config(**{"student.objective": "none"}), str(tmp_path)).results
    assert os.path.getmtime(tmp_path / "teacher.keras") == teacher_time
    assert again["teacher"] == results["teacher"]
    assert "student" not in again


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"teacher.objective": "magic"}, "unknown teacher objective 'magic'"),
        ({"student.objective": "magic"}, "unknown student objective 'magic'"),
        ({"student.objective": "slam"}, "unknown student objective 'slam'"),
        ({"student.objective_kw": {"beta": 1.0}}, "student objective 'std' takes no option 'beta'"),
        (
            {"teacher.objective": "tdf", "teacher.objective_kw": {"alpha": 2.0}},
            r"teacher.objective_kw.alpha must be in \[0, 1\], got 2.0",
        ),
        ({"strategy": "horovod"}, "unknown strategy"),
    ],
)
def test_bad_config_fails_before_anything_is_written(tmp_path, overrides, match):
    workdir = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        pipeline.run(_digits_config(**overrides), str(workdir))
    assert not workdir.exists()
