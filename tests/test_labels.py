"""Teacher labels: bulk inference, temperature and hard labels, the on-disk cache and its checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.data import teacher_cache
from tf_robust_distill.data.teacher_cache import model_fingerprint
from tf_robust_distill.data.teacher_labels import TeacherLabels

N, C = 37, 4


def _teacher(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(C)(inputs))


def _dataset():
    x = np.random.default_rng(0).normal(size=(N, 6)).astype(np.float32)
    return x, tf.data.Dataset.from_tensor_slices((x, np.zeros(N, np.int32)))


def test_from_model_matches_the_teacher_and_applies_temperature_when_read():
    teacher = _teacher()
    x, dataset = _dataset()
    labels = TeacherLabels.from_model(teacher, dataset, num_examples=N, batch_size=8)
    logits = teacher(x).numpy()
    np.testing.assert_allclose(labels.logits, logits, rtol=1e-5, atol=1e-6)
    for temperature in (0.1, 1.0, 3.0, 5.0):
        expected = tf.nn.softmax(logits / temperature).numpy()
        np.testing.assert_allclose(labels.probs(temperature), expected, rtol=1e-4, atol=1e-6)
    hard = labels.targets(hard=True)
    np.testing.assert_array_equal(hard.argmax(axis=1), logits.argmax(axis=1))
    np.testing.assert_array_equal(hard.sum(axis=1), np.ones(N))


def test_cache_round_trip_never_runs_the_teacher_again(tmp_path, monkeypatch):
    teacher = _teacher()
    _, dataset = _dataset()
    path = tmp_path / "cache" / "train.npz"
    first = TeacherLabels.from_model(teacher, dataset, num_examples=N, cache_path=path)
    assert path.exists()

    def no_inference(*args, **kwargs):
        raise AssertionError("the teacher ran although its labels were cached")

    monkeypatch.setattr(teacher_cache, "bulk_inference", no_inference)
    second = TeacherLabels.from_model(teacher, dataset, num_examples=N, cache_path=path)
    np.testing.assert_array_equal(first.logits, second.logits)
    assert second.fingerprint == model_fingerprint(teacher)


def test_fingerprint_changes_with_the_weights():
    teacher = _teacher()
    before = model_fingerprint(teacher)
    teacher.layers[-1].kernel.assign_add(tf.ones_like(teacher.layers[-1].kernel) * 1e-3)
    assert model_fingerprint(teacher) != before
    assert model_fingerprint(_teacher()) == before


def test_cache_of_a_different_teacher_is_refused(tmp_path):
    _, dataset = _dataset()
    path = tmp_path / "train.npz"
    TeacherLabels.from_model(_teacher(0), dataset, num_examples=N, cache_path=path)
    with pytest.raises(ValueError, match="different teacher"):
        TeacherLabels.from_model(_teacher(1), dataset, num_examples=N, cache_path=path)


def test_cache_with_other_sizes_is_refused(tmp_path):
    path = tmp_path / "train.npz"
    TeacherLabels(np.zeros((N, C)), "abc").save(path)
    with pytest.raises(ValueError, match="holds 37 examples, the dataset has 40"):
        TeacherLabels.load(path, num_examples=40)
    with pytest.raises(ValueError, match="holds 4 classes, the teacher has 10"):
        TeacherLabels.load(path, num_classes=10)


def test_non_finite_cache_is_refused(tmp_path):
    path = tmp_path / "train.npz"
    logits = np.zeros((N, C), np.float32)
    logits[3, 1] = np.nan
    np.savez(path, logits=logits, fingerprint=np.array("abc"), data_fingerprint=np.array(""))
    with pytest.raises(ValueError, match="non-finite values in 1 examples"):
        TeacherLabels.load(path)


def test_dataset_size_mismatch_is_refused():
    _, dataset = _dataset()
    with pytest.raises(ValueError, match="expected num_examples=40"):
        TeacherLabels.from_model(_teacher(), dataset, num_examples=40)


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TeacherLabels(np.zeros((N, C)), "abc").probs(temperature)
