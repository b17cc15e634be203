"""The host-side input checks: what they refuse, what they let through."""

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf
from support.tiny import tiny_net

import tf_robust_distill as trd
from tf_robust_distill import checks


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, "3", None, True])
def test_temperatures_must_be_finite_and_positive(value):
    with pytest.raises(ValueError, match="must be > 0 and finite"):
        checks.check_temperature(value)


def test_a_positive_temperature_passes_as_a_float():
    assert checks.check_temperature(np.float32(0.5)) == 0.5
    np.testing.assert_allclose(trd.softmax.softmax([[0.0, math.log(3.0)]], 1.0), [[0.25, 0.75]])


@pytest.mark.parametrize(
    "x, warns",
    [
        (np.arange(12, dtype=np.uint8).reshape(3, 4), True),
        (np.linspace(0, 255, 12).reshape(3, 4), True),
        (np.linspace(0, 1, 12).reshape(3, 4), False),
        (np.linspace(-3, 3, 12).reshape(3, 4), False),
        (np.linspace(0, 1000, 12).reshape(3, 4), False),
    ],
    ids=["uint8", "float_0_255", "scaled", "standardized", "beyond_pixels"],
)
def test_unscaled_pixel_warning(x, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checks.check_features(x, "x")
    raised = [w for w in caught if issubclass(w.category, checks.UnscaledFeaturesWarning)]
    assert bool(raised) is warns
    if warns:
        assert "x / 255.0" in str(raised[0].message)


def test_valid_arrays_train_and_labels_of_shape_n_by_1_pass():
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    labels = (np.arange(12) % 3).reshape(12, 1)
    probs = np.random.default_rng(1).dirichlet(np.ones(3), size=12).astype(np.float32)
    model = trd.StandardModel(tiny_net(), distill=True)
    model.compile(optimizer="adam")
    history = model.fit(x, {"label": labels, "teacher_probs": probs}, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_pipeline_reads_labels_in_range_and_checks_the_teacher_width():
    x = np.zeros((12, 5), np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.arange(12) % 3))
    batches = trd.data.training_pipeline(dataset, 4, seed=0, num_classes=3)
    assert sum(1 for _ in batches) == 3
    probs = np.full((12, 4), 0.25, np.float32)
    with pytest.raises(ValueError, match="has 4 classes but 3 were expected"):
        trd.data.training_pipeline(
            dataset, 4, seed=0, num_classes=3, per_example={"teacher_probs": probs}
        )
