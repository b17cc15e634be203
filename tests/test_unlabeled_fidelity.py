"""Fidelity weights from the teacher's variance over augmented views (SLaM App. D.4) against
a loop transcription, beside the entropy ones; the views' cache."""

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import data
from tf_robust_distill.data.augment import crop_flip
from tf_robust_distill.pipeline import unlabeled
from tf_robust_distill.pipeline.unlabeled import teacher_uncertainty


def _teacher(input_shape, num_classes, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    outputs = keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def expected_variance(teacher, images, views, temperature):
    """For example i: the probabilities softmax(f(crop_flip(x_i, seed (v, i)))/T) of views
    v = 0 … V-1; per class their population variance; the mean over the classes."""
    variances = []
    for index, image in enumerate(images):
        probs = []
        for view in range(views):
            augmented = crop_flip(tf.constant(image), tf.constant([view, index], tf.int64))
            logits = teacher(augmented[None], training=False).numpy()[0].astype(np.float64)
            exp = np.exp((logits - logits.max()) / temperature)
            probs.append(exp / exp.sum())
        probs = np.array(probs)
        per_class = [
            sum((p - probs[:, c].mean()) ** 2 for p in probs[:, c]) / views
            for c in range(probs.shape[1])
        ]
        variances.append(sum(per_class) / len(per_class))
    return np.array(variances)


def _settings(views):
    return ml_collections.ConfigDict(
        {"fidelity_augmentation": "crop_flip", "fidelity_views": views}
    )


def test_view_variance_matches_the_loop_and_is_cached(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((12, 6, 6, 1)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(12, np.int32)))
    teacher = _teacher((6, 6, 1), 4, seed=1)
    computed = teacher_uncertainty.view_variance(
        teacher, dataset, 12, _settings(3), 2.0, str(tmp_path), batch_size=5
    )
    np.testing.assert_allclose(
        computed.values, expected_variance(teacher, images, 3, 2.0), rtol=1e-4, atol=1e-9
    )
    assert computed.values.min() > 0  # the views differ
    (cache,) = (tmp_path / "teacher_labels").iterdir()
    assert "crop_flip_3views_t2" in cache.name
    again = teacher_uncertainty.view_variance(
        teacher, dataset, 12, _settings(3), 2.0, str(tmp_path), batch_size=4
    )
    np.testing.assert_array_equal(again.values, computed.values)
    with pytest.raises(ValueError, match="different teacher"):
        teacher_uncertainty.view_variance(
            _teacher((6, 6, 1), 4, seed=2), dataset, 12, _settings(3), 2.0, str(tmp_path), 4
        )


@pytest.mark.parametrize(
    "uncertainty",
    ["entropy", pytest.param("augmentation_variance", marks=pytest.mark.slow)],  # the loop
)
def test_student_fidelity_weights_read_the_configured_uncertainty(tmp_path, uncertainty):
    """w = exp(−β u / mean u) on U, 1 on A and V, u the entropy of softmax(f/t_B) or the
    variance over the teacher's augmented views."""
    config = unlabeled_config.get_config("smoke")
    config.update_from_flattened_dict(
        {
            "unlabeled.fidelity_uncertainty": uncertainty,
            "unlabeled.fidelity_views": 2,
            "unlabeled.fidelity_beta": 3.0,
            "student.temperature": 2.0,
        }
    )
    context = unlabeled.prepare(config)
    teacher = _teacher(context.splits.input_shape, 10, seed=3)
    images = np.stack([x for x, _ in context.splits.train.as_numpy_iterator()])
    logits = teacher.predict(images, verbose=0)
    stage = unlabeled.LabeledStage(
        teacher=teacher,
        teacher_labels=data.TeacherLabels(logits, "teacher"),
        teacher_directory=str(tmp_path),
        student_checkpoint="",
        reports={},
    )
    split = unlabeled.trial_split(config, context)
    training_set = unlabeled.StudentTrainingSet(config, context, split, stage)
    unlabeled_positions = split.unlabeled_positions
    if uncertainty == "entropy":
        scaled = logits.astype(np.float64) / 2.0
        probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        u = -(probs * np.log(probs)).sum(axis=1)[unlabeled_positions]
    else:
        u = expected_variance(teacher, images, 2, 2.0)[unlabeled_positions]
    expected = np.ones(training_set.num_examples)
    expected[training_set.rows(unlabeled_positions)] = np.exp(-3.0 * u / u.mean())
    np.testing.assert_allclose(training_set.weight, expected, rtol=2e-4)
