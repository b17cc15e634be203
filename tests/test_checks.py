"""Argument checks: what they accept, and errors that name the argument and the rule."""

import numpy as np
import pytest

from tf_robust_distill import checks


@pytest.mark.parametrize(
    ("value", "integer", "real"),
    [
        (3, True, True),
        (np.int64(3), True, True),
        (2.5, False, True),
        (np.float32(2.5), False, True),
        (True, False, False),
        (np.bool_(True), False, False),
        ("3", False, False),
        (None, False, False),
    ],
)
def test_integers_and_reals_exclude_bools(value, integer, real):
    assert checks.is_integer(value) is integer
    assert checks.is_real(value) is real


def test_probabilities_come_back_as_float64_rows_summing_to_one():
    probs = np.array([[0.25, 0.75], [1.0, 0.0]], np.float32)
    checked = checks.as_probabilities(probs)
    assert checked.dtype == np.float64
    np.testing.assert_array_equal(checked, probs)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.full(3, 1 / 3), r"teacher_probs must have shape \[N, C\]"),
        (np.ones((2, 1)), "at least 2 classes"),
        (np.array([[2.0, -1.0, 3.0]]), "row 0 sums to 4.0; pass softmax"),
        (np.array([[1.5, -0.5]]), "teacher_probs must be non-negative"),
        (np.array([[np.nan, 1.0]]), "must sum to 1"),
        (np.array([["a", "b"]]), "must hold real probabilities"),
    ],
)
def test_bad_probabilities_are_named(probs, message):
    with pytest.raises(ValueError, match=message):
        checks.as_probabilities(probs, "teacher_probs")


def test_labels_are_checked_for_shape_and_range():
    np.testing.assert_array_equal(checks.as_labels([0, 2, 1], 3, num_examples=3), [0, 2, 1])
    with pytest.raises(ValueError, match=r"shape \(4,\) to match"):
        checks.as_labels([0, 2, 1], 3, num_examples=4)
    with pytest.raises(ValueError, match=r"y must be in \[0, num_classes\) = \[0, 3\)"):
        checks.as_labels([0, 3], 3, name="y")


def test_non_finite_logits_are_counted_by_example():
    logits = np.zeros((4, 3))
    logits[1, :2] = np.inf
    logits[3, 0] = np.nan
    with pytest.raises(ValueError, match="teacher logits hold non-finite values in 2 examples"):
        checks.as_logits(logits, "teacher logits")
