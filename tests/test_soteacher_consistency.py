"""SoTeacher's λ_CR schedules (§4, App. D.1) and temporal-ensembling math (App. C)."""

import math

import numpy as np
import pytest

from tf_robust_distill.objectives.consistency import (
    SCHEDULES,
    consistency_loss,
    consistency_weight,
    probabilities,
    running_mean_update,
)
from tf_robust_distill.softmax import softmax


def paper_schedule(name, t, total, weight_max):
    """The paper's formulas, with t/T held at 1 after the ramp-up."""
    r = min(t / total, 1.0)
    if name == "linear":
        return r * weight_max
    if name == "cosine":
        return math.cos((1 - r) * math.pi / 2) * weight_max
    if name == "cyclic":
        return math.sqrt(1 - (1 - r) ** 2) * weight_max
    if 0 <= t <= total / 3:
        return 0.0
    if total / 3 < t <= 2 * total / 3:
        return weight_max / 2
    return weight_max


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("total", [1, 9, 10, 240])
def test_schedules_match_the_paper(name, total):
    for t in range(total + 3):
        np.testing.assert_allclose(
            consistency_weight(name, t, total, 2.5), paper_schedule(name, t, total, 2.5), atol=1e-12
        )


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_ramp_from_zero_to_the_maximum(name):
    values = [consistency_weight(name, t, 12, 1.0) for t in range(15)]
    np.testing.assert_allclose(values[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(values[12:], 1.0)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))


def test_piecewise_thresholds():
    assert [consistency_weight("piecewise", t, 9, 1.0) for t in range(10)] == [
        0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0
    ]  # fmt: skip


def test_running_mean_update_is_the_mean_of_all_predictions_so_far():
    rng = np.random.default_rng(0)
    predictions = rng.dirichlet(np.ones(4), size=(6, 3)).astype(np.float32)  # [steps, batch, C]
    mean, count = np.zeros((3, 4), np.float32), np.zeros(3, np.int32)
    for step, prediction in enumerate(predictions, start=1):
        mean, count = running_mean_update(mean, count, prediction)
        np.testing.assert_allclose(mean, predictions[:step].mean(axis=0), rtol=1e-6)
        np.testing.assert_array_equal(count, step)


def test_running_mean_update_continues_from_each_examples_own_count():
    mean = np.array([[0.2, 0.8], [0.0, 0.0]], np.float32)
    count = np.array([3, 0], np.int32)
    prediction = np.array([[1.0, 0.0], [0.4, 0.6]], np.float32)
    new_mean, new_count = running_mean_update(mean, count, prediction)
    np.testing.assert_allclose(new_mean, [[(3 * 0.2 + 1) / 4, 3 * 0.8 / 4], [0.4, 0.6]], 1e-6)
    np.testing.assert_array_equal(new_count, [4, 1])


def test_consistency_loss_is_squared_l2_and_zero_without_earlier_prediction():
    rng = np.random.default_rng(1)
    prediction = rng.dirichlet(np.ones(5), size=4).astype(np.float32)
    mean = rng.dirichlet(np.ones(5), size=4).astype(np.float32)
    count = np.array([0, 1, 7, 0], np.int32)
    expected = np.where(count > 0, ((prediction - mean) ** 2).sum(axis=1), 0.0)
    np.testing.assert_allclose(consistency_loss(prediction, mean, count), expected, rtol=1e-6)


def test_probabilities_are_the_softmax_even_for_large_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=5.0, size=(64, 10)).astype(np.float32)
    logits[0] = [1000.0, -1000.0] + [0.0] * 8  # exp would overflow without the max shift
    np.testing.assert_allclose(probabilities(logits).numpy(), softmax(logits), atol=1e-6)
