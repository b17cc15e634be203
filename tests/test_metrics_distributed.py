"""The streaming metrics under MirroredStrategy equal the numpy metrics on the whole data."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill import metrics

NUM_CLASSES = 4
NUM_EXAMPLES = 203  # batches of 32 and a last one of 11, each split over two replicas


def _dataset_and_model(strategy):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, NUM_CLASSES, NUM_EXAMPLES)
    features = rng.normal(size=(NUM_EXAMPLES, 3)).astype("float32")
    features[:, 0] += labels  # some signal, so per-class recalls differ
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(NUM_CLASSES)])
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[
                metrics.PerClassRecall(NUM_CLASSES),
                metrics.BalancedAccuracy(NUM_CLASSES),
                metrics.WorstKAccuracy(NUM_CLASSES),
                metrics.WorstKAccuracy(NUM_CLASSES, k=2),
                metrics.ExpectedCalibrationError(num_bins=10),
                keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="nll"),
            ],
        )
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(32)
    return model, dataset, features, labels


def test_evaluate_under_mirrored_strategy_equals_numpy_on_whole_data(two_cpu_strategy):
    assert two_cpu_strategy.num_replicas_in_sync == 2
    model, dataset, features, labels = _dataset_and_model(two_cpu_strategy)
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    logits = keras.ops.convert_to_numpy(model(features)).astype(np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)

    recall = metrics.per_class_recall(labels, logits, NUM_CLASSES)
    assert np.ptp(recall) > 0.1  # a metric that averaged replicas would show here
    streamed = [results[f"recall_{j}"] for j in range(NUM_CLASSES)]
    np.testing.assert_allclose(streamed, recall, rtol=1e-6)
    expected = {
        "balanced_accuracy": metrics.balanced_accuracy(labels, logits, NUM_CLASSES),
        "worst1_accuracy": metrics.worst_k_accuracy(labels, logits, NUM_CLASSES),
        "worst2_accuracy": metrics.worst_k_accuracy(labels, logits, NUM_CLASSES, k=2),
        "expected_calibration_error": metrics.expected_calibration_error(labels, probs, 10),
        "nll": metrics.nll(labels, probs),
    }
    for name, value in expected.items():
        assert results[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
