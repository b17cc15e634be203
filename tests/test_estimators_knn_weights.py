"""debiasing_weights against a loop transcription of Algorithm 2 (Iliopoulos et al. 2022)."""

import math
import time

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsRegressor

from tf_robust_distill.estimators import debiasing_weights, knn_weights
from tf_robust_distill.estimators.knn_weights import PROBABILITY_CLIP, weight_from_estimates
from tf_robust_distill.estimators.planar_neighbors import knn_regression


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def noisy_problem(rng, num_val, num_unlabeled, num_classes, dtype=np.float64):
    """Teacher and student probabilities on a validation and an unlabeled set, plus labels.

    The teacher is right on roughly 60% of the validation set; the student is a noisy copy of
    the teacher, so some wrong teacher labels are shared by the student (distortion < 1).
    """
    num = num_val + num_unlabeled
    teacher_logits = 2.0 * rng.normal(size=(num, num_classes))
    student_logits = teacher_logits + 1.5 * rng.normal(size=(num, num_classes))
    teacher = softmax(teacher_logits).astype(dtype)
    student = softmax(student_logits).astype(dtype)
    labels = np.where(
        rng.random(num_val) < 0.6,
        teacher[:num_val].argmax(axis=1),
        rng.integers(0, num_classes, size=num_val),
    )
    return teacher[:num_val], student[:num_val], labels, teacher[num_val:], student[num_val:]


def reference_weights(t_val, s_val, y_val, t_unl, s_unl, confidence, k=None, hard_val=None):
    """Algorithm 2 line by line, with Python loops; `hard_val`: line 9's Teacher(x)."""
    if k is None:
        k = math.ceil(0.5 * math.sqrt(len(y_val)))

    def conf(p):
        if confidence == "margin":
            top = sorted(p, reverse=True)
            return top[0] - top[1]
        return -sum(pc * math.log(pc) for pc in p if pc > 0)

    def loss(target, pred):
        clip = [min(max(pc, PROBABILITY_CLIP), 1 - PROBABILITY_CLIP) for pc in pred]
        return -sum(tc * math.log(pc) for tc, pc in zip(target, clip, strict=True))

    data = []
    trained_on = t_val if hard_val is None else hard_val
    for t, s, y, target in zip(t_val, s_val, y_val, trained_on, strict=True):
        covariate = (conf(t), conf(s))
        if int(np.argmax(t)) == y:
            response = (0.0, 1.0)
        else:
            one_hot = [1.0 if c == y else 0.0 for c in range(len(t))]
            response = (1.0, loss(target, s) / loss(one_hot, s))
        data.append((covariate, response))
    weights = []
    for t, s in zip(t_unl, s_unl, strict=True):
        query = (conf(t), conf(s))
        nearest = sorted(data, key=lambda item: math.dist(query, item[0]))[:k]
        p_hat = sum(item[1][0] for item in nearest) / k
        d_hat = sum(item[1][1] for item in nearest) / k
        weights.append(min(1.0, 1.0 / (1.0 + p_hat * (d_hat - 1.0))))
    return np.array(weights)


@pytest.fixture(scope="module")
def problem():
    return noisy_problem(np.random.default_rng(0), num_val=200, num_unlabeled=300, num_classes=5)


@pytest.mark.parametrize("confidence", ["margin", "entropy"])
@pytest.mark.parametrize("k", [None, 3])
def test_matches_loop_transcription_of_algorithm_2(problem, confidence, k):
    weights = debiasing_weights(*problem, confidence=confidence, k=k)
    expected = reference_weights(*problem, confidence=confidence, k=k)
    np.testing.assert_allclose(weights, expected, rtol=1e-9, atol=1e-12)
    assert weights.shape == (300,)
    assert weights.min() > 0 and weights.max() <= 1
    assert 0 < (weights < 1).mean() < 1  # the data reach both sides of the projection


def test_float32_inputs_give_the_float64_answer(problem):
    as32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in problem]
    np.testing.assert_allclose(
        debiasing_weights(*as32), reference_weights(*as32, confidence="margin"), rtol=1e-5
    )


def test_teacher_right_on_every_validation_example_gives_weight_one(problem):
    t_val, s_val, _, t_unl, s_unl = problem
    weights = debiasing_weights(t_val, s_val, t_val.argmax(axis=1), t_unl, s_unl)
    np.testing.assert_array_equal(weights, np.ones(len(t_unl)))


def test_weight_formula_and_projection_onto_unit_interval():
    p_hat = np.array([0.0, 0.5, 1.0, 1.0, 0.25])
    d_hat = np.array([7.0, 3.0, 0.5, 4.0, 1.0])
    # 1 / (1 + p (d - 1)): 1, 1/2, 2 -> projected to 1, 1/4, 1.
    np.testing.assert_allclose(weight_from_estimates(p_hat, d_hat), [1.0, 0.5, 1.0, 0.25, 1.0])


def test_two_hundred_thousand_unlabeled_examples_take_seconds():
    rng = np.random.default_rng(1)
    problem = noisy_problem(rng, 10_000, 200_000, 100, dtype=np.float32)
    start = time.perf_counter()
    weights = debiasing_weights(*problem)
    elapsed = time.perf_counter() - start
    assert weights.shape == (200_000,)
    assert elapsed < 20.0, f"debiasing_weights took {elapsed:.1f} s on 200k examples"


def _replace(problem, index, value):
    return tuple(value if i == index else a for i, a in enumerate(problem))


@pytest.mark.parametrize(
    "index, bad, message",
    [
        (0, np.full((200, 5), 0.3), "sum to 1"),
        (3, np.tile([1.2, -0.2, 0.0, 0.0, 0.0], (300, 1)), "non-negative"),
        (1, np.full((199, 5), 0.2), "same shape"),
        (4, np.full((300, 4), 0.25), "same shape"),
        (3, np.full((300, 4), 0.25), "same shape"),
        (2, np.full(200, 5), r"\[0, num_classes\) = \[0, 5\)"),
        (2, np.full(200, -1), r"\[0, num_classes\) = \[0, 5\)"),
        (2, np.zeros(199, dtype=int), "shape"),
        (2, np.zeros(200), "integer"),
        (0, np.full((200,), 1.0), "num_classes"),
    ],
)
def test_bad_arrays_raise(problem, index, bad, message):
    with pytest.raises(ValueError, match=message):
        debiasing_weights(*_replace(problem, index, bad))


def test_class_count_mismatch_between_validation_and_unlabeled_raises(problem):
    t_val, s_val, y_val, _, _ = problem
    other = np.full((10, 4), 0.25)
    with pytest.raises(ValueError, match="4 classes but 5"):
        debiasing_weights(t_val, s_val, y_val, other, other)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"confidence": "variance"}, "confidence must be one of"),
        ({"k": 0}, "k must be"),
        ({"k": 101}, "k must be"),
        ({"k": 2.5}, "k must be"),
    ],
)
def test_bad_options_raise(problem, kwargs, message):
    with pytest.raises(ValueError, match=message):
        debiasing_weights(*problem, **kwargs)


def test_validation_set_smaller_than_two_k_raises(problem):
    t_val, s_val, y_val, t_unl, s_unl = problem
    with pytest.raises(ValueError, match="2k <= the number of validation examples"):
        debiasing_weights(t_val[:1], s_val[:1], y_val[:1], t_unl, s_unl)


def test_line_9_scores_the_student_against_its_training_labels(problem):
    """Hard distillation: the confidence coordinates keep the teacher's soft labels, the loss
    ratio of line 9 uses the one-hot argmax the student trains on."""
    t_val, s_val, y_val, t_unl, s_unl = problem
    hard_val = np.eye(t_val.shape[1])[t_val.argmax(axis=1)]
    weights = debiasing_weights(*problem, training_targets_val=hard_val)
    expected = reference_weights(t_val, s_val, y_val, t_unl, s_unl, "margin", hard_val=hard_val)
    np.testing.assert_allclose(weights, expected, rtol=1e-10)
    assert np.abs(weights - debiasing_weights(*problem)).max() > 1e-3


@pytest.mark.parametrize("ties", [False, True])
def test_planar_neighbours_equal_sklearn(ties):
    """Exact k-NN regression equals sklearn's KNeighborsRegressor bit for bit; with ties
    (every reference twice, with its response, and queries on references) too."""
    rng = np.random.default_rng(3)
    if ties:
        points, values = rng.beta(5, 1, (300, 2)), rng.random((300, 2))
        references, responses = np.concatenate([points, points]), np.tile(values, (2, 1))
        queries = np.concatenate([points, rng.beta(5, 1, (20000, 2))])
    else:
        references = rng.beta(5, 1, (400, 2))
        responses = rng.random((400, 2))
        queries = rng.beta(5, 1, (20000, 2))
    for k in (1, 7, 25):
        expected = KNeighborsRegressor(n_neighbors=k).fit(references, responses).predict(queries)
        np.testing.assert_array_equal(knn_regression(references, responses, queries, k), expected)


def test_planar_neighbours_break_ties_by_lower_index():
    references = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    responses = np.arange(4.0)[:, None]
    np.testing.assert_array_equal(
        knn_regression(references, responses, np.zeros((1, 2)), 2), [[0.5]]
    )


def test_unlabeled_rows_checked_and_scored_in_blocks_give_one_answer(problem, monkeypatch):
    """Blocks of 7 rows (the last one short) give the weights of one block, and a bad row is
    named by its block."""
    whole = debiasing_weights(*problem)
    monkeypatch.setattr(knn_weights, "BLOCK_ROWS", 7)
    np.testing.assert_array_equal(debiasing_weights(*problem), whole)
    t_unl = problem[3].copy()
    t_unl[150] = 0.3
    with pytest.raises(ValueError, match="rows 147 to 153 of teacher_probs_unlabeled"):
        debiasing_weights(*_replace(problem, 3, t_unl))
