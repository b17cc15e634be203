"""Caches and reuse keyed by everything that determines them; damaged state named with its
remedy; what the jobs write loads back."""

import json
import os
import stat
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.processes import ROOT, environment
from support.tiny import tiny_net

from configs import distill as distill_config
from configs import soteacher as soteacher_config
from tf_robust_distill import data, files, optim, pipeline
from tf_robust_distill.data.fingerprint import DataFingerprint, dataset_fingerprint
from tf_robust_distill.data.teacher_cache import bulk_inference
from tf_robust_distill.grid import Grid, with_overrides
from tf_robust_distill.pipeline import checkpointing, teacher

N = 30


def _examples(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float32), (np.arange(n) % 3).astype(np.int32)


def _dataset(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y))


def _labels(dataset, path):
    return data.TeacherLabels.from_model(tiny_net(1), dataset, num_examples=N, cache_path=path)


# The data fingerprint.


def test_the_fingerprint_hashes_every_byte_in_order_whatever_the_batching():
    x, y = _examples()
    expected = DataFingerprint()
    for i in range(N):  # one element at a time: the definition
        expected.update((x[i : i + 1], y[i : i + 1]))
    assert dataset_fingerprint(_dataset(x, y)) == expected.hexdigest()
    _, inferred = bulk_inference(lambda inputs: inputs, _dataset(x, y), batch_size=7)
    assert inferred == expected.hexdigest()
    order = np.random.default_rng(1).permutation(N)
    changed_label = y.copy()
    changed_label[4] = (changed_label[4] + 1) % 3
    others = {
        "shuffled": (x[order], y[order]),
        "other examples": _examples(seed=2),
        "one label changed": (x, changed_label),
        "labels as int64": (x, y.astype(np.int64)),
        "one example fewer": (x[:-1], y[:-1]),
    }
    fingerprints = {name: dataset_fingerprint(_dataset(*pair)) for name, pair in others.items()}
    assert expected.hexdigest() not in fingerprints.values()
    assert len(set(fingerprints.values())) == len(others)


def test_a_dataset_object_is_read_once_for_its_fingerprint():
    x, y = _examples()
    reads = []

    def read(features):
        reads.append(len(features))
        return features

    counted = (
        _dataset(x, y)
        .batch(N)
        .map(lambda a, b: (tf.numpy_function(read, [a], tf.float32), b))
        .unbatch()
    )
    first = dataset_fingerprint(counted)
    assert dataset_fingerprint(counted) == first == dataset_fingerprint(_dataset(x, y))
    assert reads == [N]


@pytest.mark.parametrize("other", ["shuffled", "another dataset of equal size"])
def test_a_label_cache_of_other_data_of_the_same_size_is_refused(tmp_path, other):
    x, y = _examples()
    path = tmp_path / "train.npz"
    _labels(_dataset(x, y), path)
    order = np.random.default_rng(1).permutation(N)
    changed = _dataset(x[order], y[order]) if other == "shuffled" else _dataset(*_examples(3))
    with pytest.raises(ValueError, match=f"cache {path} was computed on other data, or on"):
        _labels(changed, path)
    assert _labels(_dataset(x, y), path).data_fingerprint == dataset_fingerprint(_dataset(x, y))


def test_a_feature_cache_of_shuffled_data_is_refused(tmp_path):
    inputs = keras.Input((5,))
    features = keras.layers.Dense(4, name="features")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(features))
    x, y = _examples()
    path = tmp_path / "train_features.npz"
    kwargs = {"kind": "features", "num_examples": N, "cache_path": path}
    first = data.TeacherFeatures.from_model(model, _dataset(x, y), **kwargs)
    np.testing.assert_allclose(first.values, keras.Model(inputs, features)(x), atol=1e-6)
    reversed_data = _dataset(x[::-1], y[::-1])
    with pytest.raises(ValueError, match="computed on other data, or on the same examples"):
        data.TeacherFeatures.from_model(model, reversed_data, **kwargs)


def test_a_cache_killed_while_written_is_computed_again(tmp_path):
    """SIGKILL in the middle of `files.write_npz` leaves a partial temporary, never the cache."""
    x, y = _examples()
    path = tmp_path / "teacher_labels" / "train.npz"
    path.parent.mkdir()
    partial = path.parent / ".partial-abc.train.npz"
    partial.write_bytes(b"PK\x03\x04 half of an archive")
    labels = _labels(_dataset(x, y), path)
    np.testing.assert_allclose(labels.logits, tiny_net(1)(x), atol=1e-6)
    np.testing.assert_array_equal(data.TeacherLabels.load(path).logits, labels.logits)


def test_cache_files_are_readable_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        _labels(_dataset(*_examples()), tmp_path / "train.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "train.npz").st_mode) == 0o644


# A stored teacher keyed by its data.


def _npz(path, order=None):
    rng = np.random.default_rng(0)
    means = rng.normal(scale=3.0, size=(3, 6))
    y = rng.integers(0, 3, 240)
    x = (means[y] + rng.normal(size=(240, 6))).astype(np.float32)
    y_test = rng.integers(0, 3, 90)
    x_test = (means[y_test] + rng.normal(size=(90, 6))).astype(np.float32)
    order = np.arange(240) if order is None else order
    np.savez(path, x_train=x[order], y_train=y[order], x_test=x_test, y_test=y_test)


def _npz_config(path):
    config = distill_config.get_config()
    config.dataset.name = f"npz:{path}"
    config.train.epochs = 2
    config.verbose = 0
    return config


@pytest.mark.slow  # two whole jobs
def test_an_npz_rewritten_in_another_order_retrains_the_teacher(tmp_path, monkeypatch):
    npz, workdir = tmp_path / "data.npz", tmp_path / "run"
    directories = []
    checkpoint_directory = checkpointing.checkpoint_directory

    def recording(*args):
        directories.append(checkpoint_directory(*args))
        return directories[-1]

    monkeypatch.setattr(checkpointing, "checkpoint_directory", recording)
    _npz(npz)
    pipeline.run(_npz_config(npz), str(workdir))
    first_key = json.loads((workdir / teacher.CONFIG_FILE).read_text())
    first_directories = list(directories)
    _npz(npz, order=np.random.default_rng(5).permutation(240))
    job = pipeline.run(_npz_config(npz), str(workdir))
    # Checkpoints are keyed by the data too: none of the first run's could be resumed.
    assert not set(first_directories) & set(directories[len(first_directories) :])
    key = json.loads((workdir / teacher.CONFIG_FILE).read_text())
    assert key["data"]["train"] != first_key["data"]["train"]
    assert key["data"]["train"] == dataset_fingerprint(job.context.splits.train)
    stored = keras.models.load_model(workdir / teacher.MODEL_FILE)
    x = np.concatenate([batch for batch, _ in job.context.splits.train.batch(64)])
    labels = data.TeacherLabels.load(workdir / "teacher_labels" / "train.npz")
    np.testing.assert_allclose(labels.logits, stored.backbone(x), atol=1e-5)
    assert labels.data_fingerprint == key["data"]["train"]


# Damaged files name themselves and the remedy.


def _truncate(path):
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])


def test_a_truncated_stored_teacher_or_its_config_is_named(tmp_path):
    context = pipeline.context.Context(splits=None, strategy=tf.distribute.get_strategy())
    model = tiny_net()
    model.save(tmp_path / teacher.MODEL_FILE)
    files.write_json({"teacher": 1}, tmp_path / teacher.CONFIG_FILE)
    _truncate(tmp_path / teacher.CONFIG_FILE)
    with pytest.raises(ValueError, match=f"{teacher.CONFIG_FILE} is not valid JSON .*delete it"):
        teacher.stored_teacher({"teacher": 1}, context, str(tmp_path))
    files.write_json({"teacher": 1}, tmp_path / teacher.CONFIG_FILE)
    _truncate(tmp_path / teacher.MODEL_FILE)
    with pytest.raises(ValueError, match=f"{teacher.MODEL_FILE} is not a readable .keras file"):
        teacher.stored_teacher({"teacher": 1}, context, str(tmp_path))


def test_a_truncated_grid_cell_is_named(tmp_path):
    grid = Grid(str(tmp_path))
    grid.run({"cell": 1}, lambda: {"accuracy": 0.5})
    (cell_file,) = (tmp_path / "cells").iterdir()
    _truncate(cell_file)
    with pytest.raises(ValueError, match=f"{cell_file.name} is not valid JSON .*delete it"):
        grid.run({"cell": 1}, lambda: {"accuracy": 0.5})
    with pytest.raises(ValueError, match="is not valid JSON"):
        grid.records()


def _checkpointed(directory, epochs):
    model = tiny_net()
    model.compile(optimizer="adam", loss="mse")
    checkpoint = checkpointing.TrainingCheckpoint(model, str(directory))
    for epoch in range(epochs):
        model.layers[-1].bias.assign(np.full(3, float(epoch), np.float32))
        checkpoint.save(epoch, {"loss": float(epoch)})


def _restored(directory):
    model = tiny_net()
    model.compile(optimizer="adam", loss="mse")
    epochs = checkpointing.TrainingCheckpoint(model, str(directory)).restore()
    return epochs, model.layers[-1].bias.numpy()


@pytest.mark.parametrize("damaged", ["data", "index"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path, damaged):
    _checkpointed(tmp_path, epochs=3)
    (latest,) = tmp_path.glob(f"ckpt-3.{damaged}*")
    _truncate(latest)
    with pytest.warns(UserWarning, match="skipped the damaged checkpoint"):
        epochs, bias = _restored(tmp_path)
    assert epochs == 2
    np.testing.assert_array_equal(bias, np.full(3, 1.0))


def test_no_readable_checkpoint_says_which_directory_to_delete(tmp_path):
    _checkpointed(tmp_path, epochs=2)
    for path in tmp_path.glob("ckpt-*.data*"):
        _truncate(path)
    with pytest.raises(ValueError, match=f"every kept checkpoint is damaged.*Delete {tmp_path}"):
        _restored(tmp_path)


# Grid cells keyed by the settings they ran with.


def test_a_grid_cell_whose_settings_changed_is_refused_and_an_old_cell_is_read(tmp_path):
    config = soteacher_config.get_config("smoke")
    grid = Grid(str(tmp_path), config)
    cell = {"part": "main", "teacher": "std", "seed": 0}
    at_three = with_overrides(config, {"student.temperature": 3.0})
    assert grid.run(cell, lambda: {"accuracy": 0.5}, at_three) == {"accuracy": 0.5}
    assert grid.run(cell, lambda: {"accuracy": 0.0}, at_three) == {"accuracy": 0.5}
    at_five = with_overrides(config, {"student.temperature": 5.0})
    with pytest.raises(ValueError, match=r"other settings \(\['student.temperature'\] differ"):
        grid.run(cell, lambda: {"accuracy": 0.0}, at_five)
    files.write_json({"cell": cell, "result": {"accuracy": 0.25}}, grid.path(cell))
    assert grid.run(cell, lambda: {"accuracy": 0.0}, at_five) == {"accuracy": 0.25}


# What the jobs write loads.


def test_a_job_restores_the_callers_dtype_policy_when_it_fails(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the teacher failed")

    monkeypatch.setattr(pipeline.job, "teacher_for", fail)
    config = distill_config.get_config("demo")
    config.mixed_precision = "mixed_bfloat16"
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError, match="the teacher failed"):
        pipeline.run(config, str(tmp_path / "run"))
    assert keras.config.dtype_policy().name == before


@pytest.mark.slow  # a fresh process
def test_a_saved_model_with_the_jobs_schedule_loads_after_importing_the_package(tmp_path):
    train = distill_config.get_config("demo").train
    model = tiny_net()
    model.compile(optimizer=optim.make_optimizer(train, steps_per_epoch=10), loss="mse")
    model.fit(np.zeros((4, 5)), np.zeros((4, 3)), epochs=1, verbose=0)
    model.save(tmp_path / "teacher.keras")
    load = (
        "import keras, tf_robust_distill; "
        f"m = keras.models.load_model({str(tmp_path / 'teacher.keras')!r}); "
        "print(m.optimizer.get_config()['learning_rate']['class_name'], "
        "int(m.optimizer.iterations))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", load], cwd=ROOT, env=environment(), capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["WarmupStepDecay", "1"]
