"""The streaming Keras metrics against the numpy metrics, on one device."""

import keras
import numpy as np
import pytest
from sklearn.metrics import top_k_accuracy_score

from tf_robust_distill import metrics

NUM_CLASSES = 5
SEEDS = [0, 1, 2]


def _softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _random_problem(seed, num_examples=230):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, num_examples)
    logits = rng.normal(size=(num_examples, NUM_CLASSES)).astype("float32") * 2.0
    logits[np.arange(num_examples), labels] += rng.uniform(0, 3, NUM_CLASSES)[labels]
    return labels, logits


def _streamed(metric, y_true, y_pred, batch_size=37, sample_weight=None):
    """Result after one update_state per batch (the last batch is smaller)."""
    for start in range(0, len(y_pred), batch_size):
        batch = slice(start, start + batch_size)
        weight = None if sample_weight is None else sample_weight[batch]
        metric.update_state(y_true[batch], y_pred[batch], sample_weight=weight)
    return _numpy(metric.result())


def _numpy(result):
    """A metric's result as numpy; PerClassRecall's dict {recall_j} as its [C] vector."""
    if isinstance(result, dict):
        return np.array([keras.ops.convert_to_numpy(value) for value in result.values()])
    return keras.ops.convert_to_numpy(result)


def _label_encodings(labels):
    """The same labels as ids [B], ids [B, 1] and one-hot targets [B, C]."""
    return {
        "ids": labels,
        "column": labels[:, None],
        "one_hot": np.eye(NUM_CLASSES, dtype="float32")[labels],
    }


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("encoding", ["ids", "column", "one_hot"])
def test_confusion_metrics_after_batches_equal_numpy(seed, encoding):
    labels, logits = _random_problem(seed)
    y_true = _label_encodings(labels)[encoding]
    np.testing.assert_allclose(
        _streamed(metrics.PerClassRecall(NUM_CLASSES), y_true, logits),
        metrics.per_class_recall(labels, logits, NUM_CLASSES),
        rtol=1e-6,
    )
    assert _streamed(metrics.BalancedAccuracy(NUM_CLASSES), y_true, logits) == pytest.approx(
        metrics.balanced_accuracy(labels, logits, NUM_CLASSES), rel=1e-6
    )
    for k in (1, 2, NUM_CLASSES):
        assert _streamed(metrics.WorstKAccuracy(NUM_CLASSES, k=k), y_true, logits) == pytest.approx(
            metrics.worst_k_accuracy(labels, logits, NUM_CLASSES, k=k), rel=1e-6
        )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("num_bins", [1, 10, 15])
def test_ece_after_batches_equals_numpy(seed, num_bins):
    labels, logits = _random_problem(seed)
    probs = _softmax(logits.astype(np.float64))
    expected = metrics.expected_calibration_error(labels, probs, num_bins)
    from_logits = metrics.ExpectedCalibrationError(num_bins)
    from_probs = metrics.ExpectedCalibrationError(num_bins, from_logits=False)
    assert _streamed(from_logits, labels, logits) == pytest.approx(expected, abs=1e-6)
    assert _streamed(from_probs, labels[:, None], probs.astype("float32")) == pytest.approx(
        expected, abs=1e-6
    )


def test_integer_sample_weights_count_examples_that_many_times():
    labels, logits = _random_problem(5, num_examples=120)
    weights = np.random.default_rng(5).integers(0, 4, len(labels))
    repeated_labels, repeated_logits = np.repeat(labels, weights), np.repeat(logits, weights, 0)
    repeated_probs = _softmax(repeated_logits.astype(np.float64))
    streamed = {
        "balanced": _streamed(metrics.BalancedAccuracy(NUM_CLASSES), labels, logits, 16, weights),
        "worst2": _streamed(metrics.WorstKAccuracy(NUM_CLASSES, 2), labels, logits, 16, weights),
        "ece": _streamed(metrics.ExpectedCalibrationError(), labels, logits, 16, weights),
    }
    assert streamed["balanced"] == pytest.approx(
        metrics.balanced_accuracy(repeated_labels, repeated_logits, NUM_CLASSES), rel=1e-6
    )
    assert streamed["worst2"] == pytest.approx(
        metrics.worst_k_accuracy(repeated_labels, repeated_logits, NUM_CLASSES, k=2), rel=1e-6
    )
    assert streamed["ece"] == pytest.approx(
        metrics.expected_calibration_error(repeated_labels, repeated_probs), abs=1e-6
    )


def test_keras_crossentropy_metrics_equal_nll_for_ids_and_one_hot_labels():
    labels, logits = _random_problem(4)
    expected = metrics.nll(labels, _softmax(logits.astype(np.float64)))
    sparse = keras.metrics.SparseCategoricalCrossentropy(from_logits=True)
    one_hot = keras.metrics.CategoricalCrossentropy(from_logits=True)
    encodings = _label_encodings(labels)
    assert _streamed(sparse, encodings["ids"], logits) == pytest.approx(expected, rel=1e-5)
    assert _streamed(one_hot, encodings["one_hot"], logits) == pytest.approx(expected, rel=1e-5)


def _all_metrics():
    return [
        metrics.PerClassRecall(NUM_CLASSES),
        metrics.BalancedAccuracy(NUM_CLASSES),
        metrics.WorstKAccuracy(NUM_CLASSES, k=2),
        metrics.ExpectedCalibrationError(num_bins=10, from_logits=False),
    ]


def test_results_before_any_example_are_defined():
    recall, balanced, worst2, ece = [_numpy(metric.result()) for metric in _all_metrics()]
    assert recall.shape == (NUM_CLASSES,) and np.isnan(recall).all()
    assert (balanced, worst2, ece) == (0.0, 0.0, 0.0)


def test_reset_state_forgets_the_examples_seen():
    labels, logits = _random_problem(0)
    for metric in _all_metrics():
        before = _numpy(metric.result())
        _streamed(metric, labels, _softmax(logits))
        metric.reset_state()
        np.testing.assert_array_equal(_numpy(metric.result()), before)


def test_unseen_class_is_nan_and_worst_k_averages_the_classes_seen():
    labels, logits = _random_problem(1)
    keep = labels < 2
    labels, logits = labels[keep], logits[keep]
    recall = _streamed(metrics.PerClassRecall(NUM_CLASSES), labels, logits)
    np.testing.assert_allclose(
        recall, metrics.per_class_recall(labels, logits, NUM_CLASSES), rtol=1e-6
    )
    assert np.isnan(recall[2:]).all()
    worst3 = _streamed(metrics.WorstKAccuracy(NUM_CLASSES, k=3), labels, logits)
    assert worst3 == pytest.approx(np.mean(recall[:2]), rel=1e-6)


def test_jit_compiled_evaluate_equals_numpy():
    labels, logits = _random_problem(3)
    probs = _softmax(logits.astype(np.float64))
    inputs = keras.Input((NUM_CLASSES,))
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            metrics.PerClassRecall(NUM_CLASSES),
            metrics.BalancedAccuracy(NUM_CLASSES),
            metrics.WorstKAccuracy(NUM_CLASSES),
            metrics.ExpectedCalibrationError(),
        ],
        jit_compile=True,
    )
    results = model.evaluate(logits, labels, batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        [results[f"recall_{j}"] for j in range(NUM_CLASSES)],
        metrics.per_class_recall(labels, logits, NUM_CLASSES),
        rtol=1e-6,
    )
    assert results["balanced_accuracy"] == pytest.approx(
        metrics.balanced_accuracy(labels, logits, NUM_CLASSES), rel=1e-6
    )
    assert results["worst1_accuracy"] == pytest.approx(
        metrics.worst_k_accuracy(labels, logits, NUM_CLASSES), rel=1e-6
    )
    assert results["expected_calibration_error"] == pytest.approx(
        metrics.expected_calibration_error(labels, probs), abs=1e-6
    )


@pytest.mark.parametrize(
    "metric",
    [
        metrics.PerClassRecall(7, name="recall_per_class"),
        metrics.BalancedAccuracy(4),
        metrics.WorstKAccuracy(6, k=3),
        metrics.ExpectedCalibrationError(num_bins=20, from_logits=False, name="ece"),
    ],
    ids=lambda metric: type(metric).__name__,
)
def test_serialization_round_trip(metric):
    config = metric.get_config()
    rebuilt = type(metric).from_config(config)
    assert rebuilt.get_config() == config
    serialized = keras.saving.serialize_keras_object(metric)
    assert serialized["registered_name"] == f"tf_robust_distill>{type(metric).__name__}"
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is type(metric) and deserialized.get_config() == config


def test_worst_k_default_name_says_k():
    assert metrics.WorstKAccuracy(NUM_CLASSES, k=3).name == "worst3_accuracy"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: metrics.BalancedAccuracy(1), "integer >= 2"),
        (lambda: metrics.PerClassRecall(2.5), "integer >= 2"),
        (lambda: metrics.WorstKAccuracy(4, k=0), r"\[1, num_classes\] = \[1, 4\]"),
        (lambda: metrics.WorstKAccuracy(4, k=5), r"\[1, num_classes\] = \[1, 4\]"),
        (lambda: metrics.ExpectedCalibrationError(num_bins=0), "num_bins must be an integer >= 1"),
    ],
)
def test_bad_constructor_arguments_raise(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("metric", "y_pred"),
    [
        (metrics.BalancedAccuracy(3), np.zeros((4, 4), "float32")),
        (metrics.PerClassRecall(3), np.zeros((4,), "float32")),
        (metrics.ExpectedCalibrationError(), np.zeros((4, 3, 1), "float32")),
    ],
    ids=["wrong_num_classes", "ids_not_scores", "rank_3"],
)
def test_bad_y_pred_shape_raises(metric, y_pred):
    with pytest.raises(ValueError, match=r"y_pred must have shape \[B, "):
        metric.update_state(np.zeros(4, "int32"), y_pred)


def test_top_k_accuracy_streams_to_the_numpy_value_with_weights():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 9, 90)
    scores = rng.normal(size=(90, 9)).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, 90).astype(np.float32)
    metric = metrics.TopKAccuracy(k=5)
    for batch in np.array_split(np.arange(90), 4):
        metric.update_state(labels[batch], scores[batch], sample_weight=weights[batch])
    expected = top_k_accuracy_score(labels, scores, k=5, sample_weight=weights, labels=np.arange(9))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    assert metric.name == "top5_accuracy"
