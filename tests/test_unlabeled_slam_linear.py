"""SLaM for linear models (Algorithm 3): the update of Lemma E.3 and learning noisy halfspaces."""

import numpy as np
import pytest

from tf_robust_distill import slam_linear


def _slam_loss(w, x, teacher_label, alpha):
    """ce(y, mix(f(x; w); α)) for one example, App. E: y_0 = 1 iff the teacher says +1."""
    f0 = 1 / (1 + np.exp(-w @ x))
    mixed = alpha * f0 + (1 - alpha) * (1 - f0)
    return -np.log(mixed) if teacher_label > 0 else -np.log(1 - mixed)


def _r(w, x, alpha):
    """r(f(x; w), α) of Lemma E.3."""
    f0 = 1 / (1 + np.exp(-w @ x))
    mixed = alpha * f0 + (1 - alpha) * (1 - f0)
    return f0 * (1 - f0) / (mixed * (1 - mixed)) * abs(2 * alpha - 1)


@pytest.mark.parametrize("alpha", [0.9, 0.7, 0.3])
@pytest.mark.parametrize("teacher_label", [1, -1])
def test_step_is_minus_gradient_over_r(alpha, teacher_label):
    """Algorithm 3: w ← w − g / r, g the SLaM gradient (here by central differences)."""
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=3), rng.normal(size=3) / 3
    h = 1e-6
    gradient = np.array(
        [
            (
                _slam_loss(w + h * e, x, teacher_label, alpha)
                - _slam_loss(w - h * e, x, teacher_label, alpha)
            )
            / (2 * h)
            for e in np.eye(3)
        ]
    )
    expected = -gradient / _r(w, x, alpha)
    actual = slam_linear.slam_linear_step(w, x, teacher_label, alpha)
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-9)


def test_slam_beats_logistic_regression_where_convex_losses_fail():
    """γ = 0.05, 20% random classification noise, 1000 examples, 20000 steps, seed 0."""
    rng = np.random.default_rng(0)
    x, labels, _ = slam_linear.convex_loss_trap_halfspace(6000, 0.05, rng)
    noisy = slam_linear.random_classification_noise(labels[:1000], 0.2, rng)
    slam = slam_linear.fit_slam_linear(x[:1000], noisy, 0.8, 20000, seed=0)
    logistic = slam_linear.fit_logistic_regression(x[:1000], noisy)
    slam_error = slam_linear.halfspace_error(slam, x[1000:], labels[1000:])
    logistic_error = slam_linear.halfspace_error(logistic, x[1000:], labels[1000:])
    assert slam_error < 0.01
    assert logistic_error > 0.3


@pytest.mark.parametrize("margin, trapped", [(0.05, True), (0.1, False)])
def test_the_trap_holds_logistic_regression_only_at_small_margins(margin, trapped):
    """η = 0.3, 20,000 noisy examples: near the population minimizer of the logistic loss,
    which misclassifies the penalizers (half the mass) at γ = 0.05 and nothing at γ = 0.1."""
    rng = np.random.default_rng(2)
    x, labels, _ = slam_linear.convex_loss_trap_halfspace(40000, margin, rng)
    noisy = slam_linear.random_classification_noise(labels[:20000], 0.3, rng)
    logistic = slam_linear.fit_logistic_regression(x[:20000], noisy)
    error = slam_linear.halfspace_error(logistic, x[20000:], labels[20000:])
    if trapped:
        assert abs(error - 0.5) < 0.02
    else:
        assert error < 0.01


def test_sampled_data_have_the_stated_margin_norm_and_noise_rate():
    rng = np.random.default_rng(1)
    x, labels, w_star = slam_linear.sphere_halfspace(5000, 6, 0.1, rng)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    assert np.abs(x @ w_star).min() >= 0.1
    np.testing.assert_array_equal(labels, np.sign(x @ w_star))
    x, labels, w_star = slam_linear.convex_loss_trap_halfspace(5000, 0.1, rng)
    assert np.linalg.norm(x, axis=1).max() <= 1 and np.abs(x @ w_star).min() >= 0.1 - 1e-12
    np.testing.assert_array_equal(labels, np.sign(x @ w_star))
    noisy = slam_linear.random_classification_noise(labels, 0.3, rng)
    assert abs(np.mean(noisy != labels) - 0.3) < 0.03


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"alpha": 1.2}, "alpha"),
        ({"num_steps": 0}, "num_steps"),
        ({"x": np.full((4, 2), 2.0)}, r"\|\|x\|\| <= 1"),
        ({"teacher_labels": np.array([0, 1, 1, -1])}, r"\+1 or -1"),
    ],
)
def test_fit_slam_linear_rejects_bad_inputs(kwargs, message):
    arguments = {
        "x": np.full((4, 2), 0.5),
        "teacher_labels": np.array([1, -1, 1, -1]),
        "alpha": 0.8,
        "num_steps": 10,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        slam_linear.fit_slam_linear(**arguments)


def test_algorithm_3_reaches_theorem_5_1_error_with_fresh_draws():
    """Theorem 5.1 with opt = 0: within T = 1/(β²γ²ε²) steps some iterate has error <= ε;
    the best checked iterate is no worse than the last one."""
    margin, noise_rate, epsilon = 0.2, 0.2, 0.1
    steps = slam_linear.theorem_steps(0.5 - noise_rate, margin, epsilon)
    assert steps == int(np.ceil(1 / (0.3**2 * 0.2**2 * 0.1**2)))
    rng = np.random.default_rng(0)
    w_star = slam_linear.sphere_halfspace(1, 5, margin, rng)[2]

    def draw(num, rng):
        x = rng.normal(size=(4 * num, 5))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x = x[np.abs(x @ w_star) >= margin][:num]
        return x, np.sign(x @ w_star)

    x_check, labels_check = draw(5000, rng)
    last, best, best_error = slam_linear.run_algorithm_3(
        draw, 1 - noise_rate, steps, rng, x_check, labels_check, eval_every=500
    )
    assert best_error <= epsilon
    assert best_error == slam_linear.halfspace_error(best, x_check, labels_check)
    assert best_error <= slam_linear.halfspace_error(last, x_check, labels_check)
