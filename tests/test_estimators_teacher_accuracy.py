"""SLaM's alpha(x), k(x) and top-k mask against scikit-learn and loop transcriptions."""

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from tf_robust_distill.estimators import (
    TeacherAccuracyEstimator,
    margin,
    top_j_margins,
    top_k_mask,
)
from tf_robust_distill.estimators.isotonic import StepIsotonic

NUM_CLASSES = 6


def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def sample_teacher(rng, num):
    """Teacher probabilities and labels drawn from them: confident rows are more often right."""
    probs = softmax(rng.normal(scale=rng.uniform(0.3, 3.0, size=(num, 1)), size=(num, NUM_CLASSES)))
    labels = np.array([rng.choice(NUM_CLASSES, p=p) for p in probs])
    return probs, labels


@pytest.fixture(scope="module")
def validation():
    return sample_teacher(np.random.default_rng(0), 400)


@pytest.fixture(scope="module")
def queries():
    return sample_teacher(np.random.default_rng(1), 300)[0]


def descending_classes(p):
    """Class indices by decreasing probability, ties by lower index (loop reference)."""
    return sorted(range(len(p)), key=lambda c: (-p[c], c))


def reference_top_j_margin(p, j):
    top = sorted(p, reverse=True)
    return sum(top[:j]) - top[j]


def reference_step_curve(covariates, responses, lower_bound):
    """App. B.1: isotonic fit clipped to [lb, 1]; a query takes the value at the smallest
    validation covariate >= it (the largest covariate's value beyond the range)."""
    fitted = IsotonicRegression().fit(covariates, responses).predict(covariates)
    fitted = np.clip(fitted, lower_bound, 1.0)

    def curve(c):
        above = [i for i in range(len(covariates)) if covariates[i] >= c]
        if not above:
            return fitted[int(np.argmax(covariates))]
        return fitted[min(above, key=lambda i: covariates[i])]

    return curve


def reference_k(val_probs, val_labels, query_probs, lower_bound, threshold):
    """Algorithm 2 of SLaM with loops."""
    curves = []
    for j in range(1, NUM_CLASSES):
        covariates = np.array([reference_top_j_margin(p, j) for p in val_probs])
        responses = np.array(
            [
                float(y in descending_classes(p)[:j])
                for p, y in zip(val_probs, val_labels, strict=True)
            ]
        )
        curves.append(reference_step_curve(covariates, responses, lower_bound))
    ks = []
    for p in query_probs:
        accuracies = [curves[j - 1](reference_top_j_margin(p, j)) for j in range(1, NUM_CLASSES)]
        accuracies.append(1.0)
        ks.append(next(j for j in range(1, NUM_CLASSES + 1) if accuracies[j - 1] >= threshold))
    return np.array(ks)


def test_top_j_margins_match_definition(queries):
    expected = np.array(
        [[reference_top_j_margin(p, j) for j in range(1, NUM_CLASSES)] for p in queries]
    )
    np.testing.assert_allclose(top_j_margins(queries), expected, atol=1e-12)
    np.testing.assert_allclose(top_j_margins(queries)[:, 0], margin(queries), atol=1e-15)


def test_step_isotonic_on_hand_computed_example():
    covariate = np.array([0.4, 0.1, 0.3, 0.2])
    response = np.array([1.0, 0.0, 0.0, 1.0])
    # Sorted by covariate the responses are 0, 1, 0, 1; pooling gives 0, 0.5, 0.5, 1.
    curve = StepIsotonic.fit(covariate, response, lower_bound=0.0)
    np.testing.assert_allclose(
        curve(np.array([0.05, 0.1, 0.25, 0.3, 0.35, 0.9])), [0, 0, 0.5, 0.5, 1, 1]
    )
    bounded = StepIsotonic.fit(covariate, response, lower_bound=0.6)
    np.testing.assert_allclose(bounded(np.array([0.1, 0.2, 0.3, 0.4])), [0.6, 0.6, 0.6, 1.0])


@pytest.mark.parametrize("lower_bound", [0.0, 0.5, 0.7])
def test_alpha_equals_clipped_sklearn_isotonic_at_validation_points(validation, lower_bound):
    probs, labels = validation
    estimator = TeacherAccuracyEstimator(lower_bound=lower_bound).fit(probs, labels)
    covariate = margin(probs)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    expected = np.clip(
        IsotonicRegression().fit(covariate, correct).predict(covariate), lower_bound, 1.0
    )
    np.testing.assert_allclose(estimator.alpha(probs), expected, atol=1e-12)


def test_alpha_between_validation_points_follows_the_step_rule(validation, queries):
    probs, labels = validation
    estimator = TeacherAccuracyEstimator(lower_bound=0.3).fit(probs, labels)
    curve = reference_step_curve(
        margin(probs), (probs.argmax(axis=1) == labels).astype(float), lower_bound=0.3
    )
    expected = np.array([curve(c) for c in margin(queries)])
    np.testing.assert_allclose(estimator.alpha(queries), expected, atol=1e-12)


def test_alpha_is_bounded_and_monotone_in_the_margin(validation):
    probs, labels = validation
    estimator = TeacherAccuracyEstimator(lower_bound=0.5).fit(probs, labels)
    grid = sample_teacher(np.random.default_rng(2), 2000)[0]
    order = np.argsort(margin(grid))
    alpha = estimator.alpha(grid)[order]
    assert alpha.min() >= 0.5 and alpha.max() <= 1.0
    assert np.all(np.diff(alpha) >= 0)
    assert alpha.min() < alpha.max()


@pytest.mark.parametrize("lower_bound, threshold", [(0.0, 0.8), (0.3, 0.95), (0.5, 0.9)])
def test_k_is_the_smallest_j_reaching_the_threshold(validation, queries, lower_bound, threshold):
    probs, labels = validation
    estimator = TeacherAccuracyEstimator(lower_bound=lower_bound, threshold=threshold)
    k = estimator.fit(probs, labels).k(queries)
    np.testing.assert_array_equal(k, reference_k(probs, labels, queries, lower_bound, threshold))
    assert len(np.unique(k)) > 1  # the data make k(x) depend on x
    assert k.dtype == np.int64


def test_fixed_k_gives_every_example_fixed_k_and_the_same_alpha(validation, queries):
    probs, labels = validation
    fixed = TeacherAccuracyEstimator(fixed_k=3).fit(probs, labels)
    free = TeacherAccuracyEstimator().fit(probs, labels)
    np.testing.assert_array_equal(fixed.k(queries), np.full(len(queries), 3))
    np.testing.assert_array_equal(fixed.alpha(queries), free.alpha(queries))


def test_top_k_mask_marks_the_k_largest_classes(queries):
    k = np.random.default_rng(3).integers(1, NUM_CLASSES + 1, size=len(queries))
    expected = np.zeros_like(queries)
    for i, p in enumerate(queries):
        expected[i, descending_classes(p)[: k[i]]] = 1.0
    mask = top_k_mask(queries, k)
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(top_k_mask(queries, 2).sum(axis=1), np.full(len(queries), 2))


def test_top_k_mask_breaks_ties_by_class_index():
    probs = np.array([[0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_array_equal(top_k_mask(probs, 2), [[1, 1, 0, 0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lower_bound": -0.1}, "lower_bound must be in"),
        ({"lower_bound": 1.1}, "lower_bound must be in"),
        ({"threshold": 0.0}, "threshold must be in"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"fixed_k": 0}, "fixed_k must be"),
        ({"fixed_k": 2.5}, "fixed_k must be"),
        ({"fixed_k": True}, "fixed_k must be"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TeacherAccuracyEstimator(**kwargs)


def test_fixed_k_larger_than_the_class_count_raises(validation):
    with pytest.raises(ValueError, match="exceeds the number of classes"):
        TeacherAccuracyEstimator(fixed_k=NUM_CLASSES + 1).fit(*validation)


@pytest.mark.parametrize("method", ["alpha", "k"])
def test_use_before_fit_raises(queries, method):
    with pytest.raises(ValueError, match="not fitted"):
        getattr(TeacherAccuracyEstimator(), method)(queries)


@pytest.mark.parametrize("method", ["alpha", "k"])
def test_class_count_mismatch_raises(validation, method):
    estimator = TeacherAccuracyEstimator().fit(*validation)
    with pytest.raises(ValueError, match="5 classes but 6"):
        getattr(estimator, method)(np.full((3, 5), 0.2))


def test_bad_validation_inputs_raise(validation):
    probs, labels = validation
    with pytest.raises(ValueError, match="sum to 1"):
        TeacherAccuracyEstimator().fit(probs * 0.5, labels)
    with pytest.raises(ValueError, match=r"\[0, num_classes\) = \[0, 6\)"):
        TeacherAccuracyEstimator().fit(probs, labels + NUM_CLASSES)
    with pytest.raises(ValueError, match="shape"):
        TeacherAccuracyEstimator().fit(probs, labels[:-1])


@pytest.mark.parametrize("k", [0, NUM_CLASSES + 1, 1.5, np.ones(5, dtype=int)])
def test_top_k_mask_bad_k_raises(queries, k):
    with pytest.raises(ValueError, match="k must be an integer"):
        top_k_mask(queries, k)
