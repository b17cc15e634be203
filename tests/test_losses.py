"""Per-example losses against direct numpy transcriptions of the papers' formulas."""

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill import losses


def _log_softmax(f):
    f = f - f.max(axis=-1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=-1, keepdims=True))


def _random(seed, n=12, c=5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, c)).astype(np.float32)
    probs = rng.dirichlet(np.ones(c), size=n).astype(np.float32)
    labels = rng.integers(0, c, size=n).astype(np.int32)
    return logits, probs, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_softmax_cross_entropy_matches_transcription(seed):
    logits, probs, _ = _random(seed)
    expected = -(probs * _log_softmax(logits)).sum(axis=1)
    np.testing.assert_allclose(losses.softmax_cross_entropy(probs, logits), expected, rtol=1e-5)


@pytest.mark.parametrize("alpha,temperature", [(0.5, 4.0), (0.0, 1.0), (1.0, 3.0), (0.3, 0.5)])
def test_kd_loss_matches_hinton_transcription(alpha, temperature):
    logits, _, labels = _random(2)
    teacher_logits = np.random.default_rng(3).normal(size=logits.shape)
    teacher_probs = np.exp(_log_softmax(teacher_logits / temperature)).astype(np.float32)
    hard = -_log_softmax(logits)[np.arange(len(labels)), labels]
    kl = (teacher_probs * (np.log(teacher_probs) - _log_softmax(logits / temperature))).sum(axis=1)
    expected = alpha * hard + (1 - alpha) * temperature**2 * kl
    actual = losses.kd_loss(labels, teacher_probs, logits, alpha=alpha, temperature=temperature)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_kd_loss_soft_term_vanishes_when_student_equals_teacher():
    logits, _, labels = _random(4)
    teacher_probs = np.exp(_log_softmax(logits / 4.0)).astype(np.float32)
    actual = losses.kd_loss(labels, teacher_probs, logits, alpha=0.0, temperature=4.0)
    np.testing.assert_allclose(actual, 0.0, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_margin_loss_matches_eq9_transcription(seed):
    logits, probs, _ = _random(seed)
    costs = np.random.default_rng(seed + 10).uniform(0.2, 5.0, size=logits.shape[1])
    n, c = logits.shape
    expected = np.zeros(n)
    for i in range(n):
        for y in range(c):
            inner = sum(
                np.exp(np.log(costs[y] / costs[j]) - (logits[i, y] - logits[i, j]))
                for j in range(c)
                if j != y
            )
            expected[i] += probs[i, y] * np.log1p(inner)
    np.testing.assert_allclose(losses.margin_loss(probs, logits, costs), expected, rtol=1e-4)


def test_margin_loss_minimizer_is_proportional_to_costs_times_targets():
    """Theorem 1 / Prop. 3: the minimizer satisfies softmax(f) ∝ c ⊙ p."""
    p = np.array([[0.6, 0.3, 0.1]], np.float32)
    c = np.array([1.0, 2.0, 8.0], np.float32)
    f = tf.Variable(tf.zeros((1, 3)))
    for _ in range(3000):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(losses.margin_loss(p, f, c))
        f.assign_sub(1.0 * tape.gradient(loss, f))
    expected = c * p / (c * p).sum()
    np.testing.assert_allclose(tf.nn.softmax(f).numpy(), expected, atol=1e-4)


def test_losses_are_float32_under_bfloat16_logits():
    logits, probs, _ = _random(5)
    out = losses.margin_loss(probs, tf.cast(logits, tf.bfloat16), np.ones(5, np.float32))
    assert out.dtype == tf.float32
