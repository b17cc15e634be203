"""A teacher trained elsewhere: ``teacher.path``, the job labels with it and trains none."""

import hashlib
import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import distill as distill_config
from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import pipeline
from tf_robust_distill.pipeline import given_teacher
from tf_robust_distill.pipeline.unlabeled import check_settings

DIGITS_SHAPE, DIGITS_CLASSES = (8, 8, 1), 10


def _teacher(path, seed, *, softmax=False, num_classes=DIGITS_CLASSES):
    """A plain Keras model (Flatten -> Dense), saved to `path`."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(DIGITS_SHAPE)
    outputs = keras.layers.Dense(num_classes, activation="softmax" if softmax else None)(
        keras.layers.Flatten()(inputs)
    )
    model = keras.Model(inputs, outputs)
    model.save(path)
    return model


def _features(dataset):
    return np.concatenate([x for x, _ in dataset.batch(512).as_numpy_iterator()])


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # whole jobs
def test_the_job_labels_with_the_given_teacher_and_a_rewritten_file_replaces_it(tmp_path):
    path, workdir = tmp_path / "mine.keras", tmp_path / "run"
    model = _teacher(path, seed=1)
    config = distill_config.get_config("demo")
    config.teacher.path = str(path)
    config.student.net = "support.user_nets:build"
    config.train.epochs = 1
    config.verbose = 0
    result = pipeline.run(config, str(workdir))

    splits = result.context.splits
    logits = {s: model.predict(_features(getattr(splits, s)), verbose=0) for s in ("train", "test")}
    np.testing.assert_allclose(
        result.context.teacher_labels["train"].logits, logits["train"], atol=1e-5
    )
    accuracy = np.mean(logits["test"].argmax(axis=1) == splits.test_labels)
    assert result.results["teacher"]["test"]["accuracy"] == pytest.approx(accuracy)
    assert (workdir / "teacher.keras").read_bytes() == path.read_bytes()
    first_sha = json.loads((workdir / "teacher_config.json").read_text())["file_sha256"]
    assert first_sha == _sha256(path)
    assert not (workdir / "tensorboard" / "teacher").exists()
    student = keras.models.load_model(workdir / "student.keras").backbone
    dense = [layer.units for layer in student.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [6, DIGITS_CLASSES]  # support.user_nets.build

    # The same path, another teacher (ending in a softmax): labels and key follow the file.
    other = _teacher(path, seed=2, softmax=True)
    config.student.objective = "none"
    result = pipeline.run(config, str(workdir))
    probs = other.predict(_features(splits.test), verbose=0)
    np.testing.assert_allclose(result.context.teacher_labels["test"].probs(), probs, atol=1e-5)
    nll = -np.mean(np.log(probs[np.arange(len(probs)), splits.test_labels]))
    assert result.results["teacher"]["test"]["nll"] == pytest.approx(nll, rel=1e-4)
    stored = json.loads((workdir / "teacher_config.json").read_text())
    assert stored["file_sha256"] == _sha256(path) != first_sha
    assert (workdir / "teacher.keras").read_bytes() == path.read_bytes()


def _splits(num_classes=DIGITS_CLASSES):
    return types.SimpleNamespace(input_shape=DIGITS_SHAPE, num_classes=num_classes)


def test_a_given_teacher_that_does_not_fit_the_data_is_refused(tmp_path):
    strategy = tf.distribute.get_strategy()
    path = tmp_path / "teacher.keras"
    _teacher(path, seed=0, num_classes=3)
    with pytest.raises(ValueError, match=r"outputs shape \(None, 3\), the data has 10 classes"):
        given_teacher.load_teacher(str(path), _splits(), strategy)
    assert given_teacher.load_teacher(str(path), _splits(3), strategy).output_shape == (None, 3)
    with pytest.raises(ValueError, match="takes inputs of shape"):
        given_teacher.load_teacher(
            str(path), types.SimpleNamespace(input_shape=(5,), num_classes=3), strategy
        )
    with pytest.raises(ValueError, match="is not a .keras file"):
        given_teacher.load_teacher(str(tmp_path / "missing.keras"), _splits(3), strategy)
    path.with_suffix(".h5").write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="is not a .keras file"):
        given_teacher.load_teacher(str(path.with_suffix(".h5")), _splits(3), strategy)


def test_the_file_hash_is_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "blob.keras"
    path.write_bytes(bytes(range(256)) * 5000)  # several read chunks
    assert given_teacher.file_sha256(str(path)) == _sha256(path)


def test_the_unlabeled_job_refuses_a_given_teacher():
    config = unlabeled_config.get_config()
    check_settings(config)
    config.teacher.path = "teacher.keras"
    with pytest.raises(ValueError, match="trains its teacher on the labeled set A"):
        check_settings(config)
