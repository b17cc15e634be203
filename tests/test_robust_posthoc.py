"""Post-shift baseline: γ on the simplex chosen for validation worst-class accuracy."""

import numpy as np
import pytest

from tf_robust_distill.metrics import worst_k_accuracy
from tf_robust_distill.posthoc import PostShift

NUM_CLASSES = 3


def _biased_teacher(n, seed):
    """Teacher probabilities that under-score class 2 (its recall is far below the others)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % NUM_CLASSES
    logits = 2.0 * np.eye(NUM_CLASSES)[labels] + rng.normal(size=(n, NUM_CLASSES))
    logits[:, 2] -= 2.0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True), labels


def test_post_shift_raises_worst_class_accuracy():
    probs_val, labels_val = _biased_teacher(600, seed=0)
    probs_test, labels_test = _biased_teacher(600, seed=1)
    teacher_val = worst_k_accuracy(labels_val, probs_val, NUM_CLASSES)
    shift = PostShift().fit(probs_val, labels_val)
    shifted_val = worst_k_accuracy(labels_val, shift.predict(probs_val), NUM_CLASSES)
    assert shifted_val == pytest.approx(shift.validation_worst_class_accuracy_)
    assert shifted_val > teacher_val + 0.2
    teacher_test = worst_k_accuracy(labels_test, probs_test, NUM_CLASSES)
    assert (
        worst_k_accuracy(labels_test, shift.predict(probs_test), NUM_CLASSES) > teacher_test + 0.2
    )
    np.testing.assert_allclose(shift.class_weights_.sum(), 1.0)
    assert np.argmax(shift.class_weights_) == 2


def test_scores_are_log_of_reweighted_probabilities():
    probs, labels = _biased_teacher(60, seed=2)
    shift = PostShift(num_iterations=5).fit(probs, labels)
    np.testing.assert_allclose(shift.predict(probs), np.log(shift.class_weights_ * probs))


def test_zero_iterations_keep_the_teacher():
    probs, labels = _biased_teacher(60, seed=2)
    shift = PostShift(num_iterations=0).fit(probs, labels)
    np.testing.assert_allclose(shift.class_weights_, np.full(NUM_CLASSES, 1 / NUM_CLASSES))
    assert shift.validation_worst_class_accuracy_ == worst_k_accuracy(labels, probs, NUM_CLASSES)


def test_validation_set_missing_a_class_is_a_value_error():
    probs, labels = _biased_teacher(60, seed=2)
    keep = labels != 1
    with pytest.raises(ValueError, match=r"classes \[1\]"):
        PostShift().fit(probs[keep], labels[keep])


@pytest.mark.parametrize(
    "kwargs", [{"step_size": 0.0}, {"num_iterations": -1}, {"num_iterations": 2.5}]
)
def test_bad_hyperparameters_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        PostShift(**kwargs)


def test_predict_before_fit_is_a_value_error():
    with pytest.raises(ValueError, match="fit"):
        PostShift().predict(np.full((2, 3), 1 / 3))
