"""The Gaussian mixture with exact class-conditional probabilities eta(x)."""

import numpy as np
from scipy.stats import multivariate_normal

from tf_robust_distill.data import GaussianMixture, load


def test_class_probabilities_equal_bayes_rule_on_scipy_densities():
    mixture = GaussianMixture.on_random_basis(num_classes=4, dim=5, separation=1.5, sigma=0.8)
    prior = np.array([0.1, 0.2, 0.3, 0.4])
    x = np.random.default_rng(0).normal(scale=1.5, size=(50, 5))
    densities = np.stack(
        [multivariate_normal(mean, 0.8**2 * np.eye(5)).pdf(x) for mean in mixture.means], axis=1
    )
    expected = prior * densities / (prior * densities).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(mixture.class_probabilities(x, prior=prior), expected, rtol=1e-10)
    uniform = densities / densities.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(mixture.class_probabilities(x), uniform, rtol=1e-10)


def test_means_are_equidistant_and_samples_follow_them():
    mixture = GaussianMixture.on_random_basis(num_classes=3, dim=6, separation=2.0, sigma=0.5)
    distances = np.linalg.norm(mixture.means[:, None] - mixture.means[None], axis=-1)
    np.testing.assert_allclose(distances[~np.eye(3, dtype=bool)], 2.0 * np.sqrt(2.0))
    x, y = mixture.sample([400, 300, 200], seed=0)
    np.testing.assert_array_equal(np.bincount(y), [400, 300, 200])
    assert not np.all(np.diff(y) >= 0)  # random order, not sorted by class
    for cls in range(3):
        np.testing.assert_allclose(x[y == cls].mean(axis=0), mixture.means[cls], atol=0.1)
        np.testing.assert_allclose(x[y == cls].std(axis=0), 0.5, atol=0.05)


def test_splits_class_probabilities_use_the_training_frequencies():
    splits = load("synthetic", imbalance_ratio=10)
    assert splits.input_shape == (32,) and splits.num_classes == 10
    x = next(iter(splits.test.batch(64)))[0].numpy()
    frequencies = np.bincount(splits.train_labels) / len(splits.train_labels)
    direct = GaussianMixture.on_random_basis(num_classes=10, dim=32, separation=3.0)
    np.testing.assert_allclose(
        splits.class_probabilities(x), direct.class_probabilities(x, prior=frequencies)
    )
    assert splits.class_probabilities(x).shape == (64, 10)
    assert len(splits.val_labels) == len(splits.test_labels) == 5000
