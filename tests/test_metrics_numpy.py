"""The numpy metrics against scikit-learn and direct transcriptions of their formulas."""

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from tf_robust_distill import metrics

SEEDS = [0, 1, 2, 3]
NUM_CLASSES = 6


def _random_problem(seed, num_examples=300, num_classes=NUM_CLASSES):
    """Labels, logits and probabilities with some signal, so recalls differ by class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_examples)
    logits = rng.normal(size=(num_examples, num_classes)) * 2.0
    logits[np.arange(num_examples), labels] += rng.uniform(0, 3, num_classes)[labels]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return labels, logits, probs


def _sklearn_recall(labels, class_ids, num_classes):
    return skm.recall_score(
        labels, class_ids, labels=np.arange(num_classes), average=None, zero_division=np.nan
    )


def _ece_by_loop(labels, probs, num_bins):
    """Guo et al. 2017: sum over bins (lo, hi] of |B|/n * |acc(B) - conf(B)|, literally."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    total = 0.0
    for b in range(1, num_bins + 1):
        lo, hi = (b - 1) / num_bins, b / num_bins
        members = [i for i in range(len(labels)) if lo < confidence[i] <= hi]
        if members:
            acc = np.mean([correct[i] for i in members])
            conf = np.mean([confidence[i] for i in members])
            total += len(members) / len(labels) * abs(acc - conf)
    return total


@pytest.mark.parametrize("seed", SEEDS)
def test_confusion_matrix_matches_sklearn(seed):
    labels, logits, _ = _random_problem(seed)
    expected = skm.confusion_matrix(labels, logits.argmax(axis=1), labels=np.arange(NUM_CLASSES))
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, logits, NUM_CLASSES), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_per_class_recall_matches_sklearn_for_ids_and_scores(seed):
    labels, logits, _ = _random_problem(seed)
    class_ids = logits.argmax(axis=1)
    expected = _sklearn_recall(labels, class_ids, NUM_CLASSES)
    np.testing.assert_allclose(metrics.per_class_recall(labels, class_ids, NUM_CLASSES), expected)
    np.testing.assert_allclose(metrics.per_class_recall(labels, logits, NUM_CLASSES), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_balanced_accuracy_matches_sklearn(seed):
    labels, logits, _ = _random_problem(seed)
    expected = skm.balanced_accuracy_score(labels, logits.argmax(axis=1))
    assert metrics.balanced_accuracy(labels, logits, NUM_CLASSES) == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 2, 3, NUM_CLASSES])
def test_worst_k_accuracy_is_mean_of_k_lowest_sklearn_recalls(seed, k):
    labels, logits, _ = _random_problem(seed)
    recall = _sklearn_recall(labels, logits.argmax(axis=1), NUM_CLASSES)
    expected = np.mean(np.sort(recall)[:k])
    assert metrics.worst_k_accuracy(labels, logits, NUM_CLASSES, k=k) == pytest.approx(expected)


def test_worst_1_is_min_recall_and_worst_c_is_balanced():
    labels, logits, _ = _random_problem(7)
    recall = metrics.per_class_recall(labels, logits, NUM_CLASSES)
    assert metrics.worst_k_accuracy(labels, logits, NUM_CLASSES) == pytest.approx(recall.min())
    assert metrics.worst_k_accuracy(labels, logits, NUM_CLASSES, k=NUM_CLASSES) == pytest.approx(
        metrics.balanced_accuracy(labels, logits, NUM_CLASSES)
    )


def test_class_without_examples_is_nan_and_left_out_of_averages():
    labels, logits, _ = _random_problem(4)
    absent = 2
    keep = labels != absent
    labels, logits = labels[keep], logits[keep]
    class_ids = logits.argmax(axis=1)
    recall = metrics.per_class_recall(labels, class_ids, NUM_CLASSES)
    np.testing.assert_allclose(recall, _sklearn_recall(labels, class_ids, NUM_CLASSES))
    assert np.isnan(recall[absent]) and not np.isnan(np.delete(recall, absent)).any()
    present = np.delete(recall, absent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: y_pred has a class not in y_true
        expected_balanced = skm.balanced_accuracy_score(labels, class_ids)
    assert metrics.balanced_accuracy(labels, class_ids, NUM_CLASSES) == pytest.approx(
        expected_balanced
    )
    assert metrics.worst_k_accuracy(labels, class_ids, NUM_CLASSES, k=2) == pytest.approx(
        np.mean(np.sort(present)[:2])
    )
    with pytest.raises(ValueError, match=r"at most the number of classes that have examples \(5\)"):
        metrics.worst_k_accuracy(labels, class_ids, NUM_CLASSES, k=NUM_CLASSES)


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_matches_sklearn(seed):
    labels, logits, probs = _random_problem(seed)
    expected = skm.accuracy_score(labels, logits.argmax(axis=1))
    assert metrics.accuracy(labels, logits) == pytest.approx(expected)
    assert metrics.accuracy(labels, probs.argmax(axis=1)) == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_agreement_is_fraction_of_equal_top1(seed):
    _, logits_a, _ = _random_problem(seed)
    _, logits_b, _ = _random_problem(seed + 100)
    expected = np.mean(logits_a.argmax(axis=1) == logits_b.argmax(axis=1))
    assert metrics.agreement(logits_a, logits_b) == pytest.approx(expected)
    assert metrics.agreement(logits_b.argmax(axis=1), logits_a) == pytest.approx(expected)
    assert metrics.agreement(logits_a, logits_a.argmax(axis=1)) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("num_bins", [1, 5, 15])
def test_ece_matches_loop_transcription(seed, num_bins):
    labels, _, probs = _random_problem(seed)
    expected = _ece_by_loop(labels, probs, num_bins)
    assert metrics.expected_calibration_error(labels, probs, num_bins) == pytest.approx(expected)


def test_ece_on_hand_example_with_confidence_on_bin_edges():
    # Bins of width 0.5: (0, .5] holds the first example (conf .5, wrong),
    # (.5, 1] the other two (conf .75 right, 1.0 wrong): 1/3 * .5 + 2/3 * |.5 - .875|.
    probs = np.array([[0.5, 0.5], [0.25, 0.75], [1.0, 0.0]])
    labels = np.array([1, 1, 1])
    assert metrics.expected_calibration_error(labels, probs, num_bins=2) == pytest.approx(
        0.5 / 3 + 2 / 3 * 0.375
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_nll_matches_sklearn_log_loss(seed):
    labels, _, probs = _random_problem(seed)
    expected = skm.log_loss(labels, probs, labels=np.arange(NUM_CLASSES))
    assert metrics.nll(labels, probs) == pytest.approx(expected)


def test_nll_clips_zero_probability_of_label():
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert metrics.nll(np.array([1, 0]), probs) == pytest.approx((-np.log(1e-7) - np.log(0.5)) / 2)


LABELS = np.array([0, 1, 2, 1])
SCORES = np.eye(3)[[0, 1, 1, 2]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.per_class_recall([0, 3, 1, 1], SCORES, 3),
            r"\[0, num_classes\) = \[0, 3\)",
        ),
        (lambda: metrics.per_class_recall([0, -1, 1, 1], SCORES, 3), r"\[0, num_classes\)"),
        (lambda: metrics.per_class_recall(LABELS, [0, 1, 5, 1], 3), r"predictions must be in \[0"),
        (lambda: metrics.per_class_recall([0.0, 1.0], SCORES[:2], 3), "integer class ids"),
        (lambda: metrics.per_class_recall([], np.zeros((0, 3)), 3), "at least one example"),
        (lambda: metrics.per_class_recall(LABELS, SCORES[:3], 3), "same number of examples"),
        (lambda: metrics.per_class_recall(LABELS, np.zeros((4, 2)), 3), "num_classes = 3 columns"),
        (lambda: metrics.per_class_recall(LABELS, np.zeros((4, 3, 1)), 3), r"shape \[N\]"),
        (lambda: metrics.per_class_recall(LABELS, SCORES, 1), "integer >= 2"),
        (lambda: metrics.balanced_accuracy(LABELS, SCORES, 3.0), "integer >= 2"),
        (lambda: metrics.worst_k_accuracy(LABELS, SCORES, 3, k=0), r"\[1, num_classes\]"),
        (lambda: metrics.worst_k_accuracy(LABELS, SCORES, 3, k=4), r"\[1, 3\]"),
        (lambda: metrics.worst_k_accuracy(LABELS, SCORES, 3, k=1.5), r"\[1, 3\]"),
        (lambda: metrics.accuracy(LABELS, SCORES[:2]), "same number of examples"),
        (lambda: metrics.agreement([0, 1], [1]), "same number of examples"),
        (lambda: metrics.expected_calibration_error(LABELS, SCORES[0], 15), r"shape \[N, C\]"),
        (lambda: metrics.expected_calibration_error(LABELS, SCORES[None], 15), r"shape \[N, C\]"),
        (lambda: metrics.expected_calibration_error(LABELS, SCORES, 0), "num_bins"),
        (lambda: metrics.expected_calibration_error(LABELS, 3 * SCORES - 1, 15), "not logits"),
        (lambda: metrics.expected_calibration_error(LABELS[:3], SCORES, 15), "same number"),
        (lambda: metrics.nll(LABELS, SCORES[0]), r"shape \[N, C\]"),
        (lambda: metrics.nll([0, 1, 3, 1], SCORES), r"\[0, num_classes\) = \[0, 3\)"),
        (lambda: metrics.nll(LABELS, SCORES * 2), "must sum to 1"),
    ],
)
def test_bad_input_raises_value_error_saying_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_accuracy_equals_sklearn(k):
    rng = np.random.default_rng(k)
    labels = rng.integers(0, 7, 200)
    scores = rng.normal(size=(200, 7))
    expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=np.arange(7))
    assert metrics.top_k_accuracy(labels, scores, k) == pytest.approx(expected)
    if k == 1:
        assert metrics.top_k_accuracy(labels, scores, 1) == metrics.accuracy(labels, scores)
