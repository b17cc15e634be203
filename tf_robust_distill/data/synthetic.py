"""A Gaussian mixture whose class-conditional probabilities are known exactly."""

import dataclasses

import numpy as np
from scipy.special import softmax

from tf_robust_distill.data.source import Source


def gaussian_mixture_posterior(x, means, sigma: float, prior) -> np.ndarray:
    """Class-conditional probabilities eta(x) = P(y | x) of an isotropic Gaussian mixture.

    The robust distillation paper (Sec. 2) writes eta_y(x) = P(Y = y | X = x); the calibration
    error of its Theorem 2 compares the teacher's p^t(x) with it. For x | y ~ N(mu_y, sigma^2 I)
    and prior pi, Bayes' rule gives

        eta_y(x) = softmax_y(log pi_y - ||x - mu_y||^2 / (2 sigma^2)).

    Args:
      x: [N, d] points.
      means: [C, d] class means mu.
      sigma: standard deviation of the shared isotropic covariance sigma^2 I.
      prior: [C] class prior pi (positive, summing to 1).

    Returns:
      [N, C] float64 array of eta(x).
    """
    x = np.asarray(x, dtype=np.float64)
    squared_distances = ((x[:, np.newaxis, :] - means[np.newaxis, :, :]) ** 2).sum(axis=-1)
    return softmax(np.log(prior) - squared_distances / (2.0 * sigma**2), axis=-1)


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture:
    """C classes, x | y ~ N(means[y], sigma^2 I), y ~ prior.

    Attributes:
      means: [C, d] class means.
      sigma: standard deviation shared by all classes and dimensions.
      prior: [C] class prior.
    """

    means: np.ndarray
    sigma: float
    prior: np.ndarray

    @classmethod
    def on_random_basis(
        cls, num_classes: int, dim: int, separation: float, sigma: float = 1.0, seed: int = 0
    ) -> "GaussianMixture":
        """Means ``separation`` times C random orthonormal vectors of R^d; uniform prior.

        Any two means are ``separation * sqrt(2)`` apart, so each pair of classes is confused
        with probability Phi(-separation / (sqrt(2) sigma)) by the Bayes classifier.
        """
        if dim < num_classes:
            raise ValueError(f"dim must be at least num_classes={num_classes}; got {dim}.")
        gaussian = np.random.default_rng(seed).standard_normal((dim, num_classes))
        basis, _ = np.linalg.qr(gaussian)
        prior = np.full(num_classes, 1.0 / num_classes)
        return cls(means=separation * basis.T, sigma=float(sigma), prior=prior)

    @property
    def num_classes(self) -> int:
        return self.means.shape[0]

    def sample(self, num_per_class, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Draws ``num_per_class[y]`` points of each class y, in random order.

        Returns:
          (x float32 [N, d], y int32 [N]).
        """
        counts = np.broadcast_to(np.asarray(num_per_class), (self.num_classes,))
        rng = np.random.default_rng(seed)
        labels = rng.permutation(np.repeat(np.arange(self.num_classes), counts))
        noise = rng.standard_normal((labels.size, self.means.shape[1]))
        x = self.means[labels] + self.sigma * noise
        return x.astype(np.float32), labels.astype(np.int32)

    def class_probabilities(self, x, prior=None) -> np.ndarray:
        """eta(x) = P(y | x) for every class, under ``prior`` (default: the mixture's prior)."""
        prior = self.prior if prior is None else np.asarray(prior, dtype=np.float64)
        return gaussian_mixture_posterior(x, self.means, self.sigma, prior)


# The synthetic benchmark: 10 classes in 32 dimensions, Bayes accuracy about 90%.
SYNTHETIC_MIXTURE = GaussianMixture.on_random_basis(num_classes=10, dim=32, separation=3.0)
TRAIN_PER_CLASS = 5000
TEST_PER_CLASS = 1000
# The 100-class task (top-k teacher labels): 128 dimensions, Bayes accuracy about 82%, the
# true class among the Bayes top 5 for about 96% of the points.
SYNTHETIC_MIXTURE_100 = GaussianMixture.on_random_basis(num_classes=100, dim=128, separation=3.5)
TRAIN_PER_CLASS_100 = 500
TEST_PER_CLASS_100 = 100
_TRAIN_SEED, _TEST_SEED = 1, 2


def mixture_source(mixture, train_per_class, test_per_class) -> Source:
    """A fixed sample of `mixture`: ``train_per_class`` training and ``test_per_class`` test
    points per class. The features are used as drawn (already standardized in scale)."""
    return Source.from_arrays(
        {
            "train": mixture.sample(train_per_class, seed=_TRAIN_SEED),
            "test": mixture.sample(test_per_class, seed=_TEST_SEED),
        },
        num_classes=mixture.num_classes,
        class_names=tuple(f"class_{c}" for c in range(mixture.num_classes)),
        class_probabilities=mixture.class_probabilities,
    )


def synthetic_source() -> Source:
    """A fixed sample of ``SYNTHETIC_MIXTURE``: 5,000 train and 1,000 test points per class.

    Balanced like CIFAR-10, so ``load('synthetic', imbalance_ratio=100)`` keeps 12,406 training
    points.
    """
    return mixture_source(SYNTHETIC_MIXTURE, TRAIN_PER_CLASS, TEST_PER_CLASS)


def synthetic100_source() -> Source:
    """A fixed sample of ``SYNTHETIC_MIXTURE_100``: 500 train and 100 test points per class
    (50,000 and 10,000)."""
    return mixture_source(SYNTHETIC_MIXTURE_100, TRAIN_PER_CLASS_100, TEST_PER_CLASS_100)
