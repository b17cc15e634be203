"""AdaMargin and AdaAlpha losses against numpy transcriptions of their formulas."""

import numpy as np
import tensorflow as tf

from tf_robust_distill import losses

NUM_CLASSES = 4


def _log_softmax(f):
    f = f - f.max(axis=1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=1, keepdims=True))


def _problem(n=20, seed=0):
    """Logits [n, m] (float64), labels [n] and Dirichlet(1) teacher probabilities [n, m]."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, NUM_CLASSES))
    labels = rng.integers(0, NUM_CLASSES, n).astype(np.int32)
    probs = rng.dirichlet(np.ones(NUM_CLASSES), size=n)
    return logits, labels, probs


def _teacher_margin(labels, probs):
    """γ_avg(y, p) = p_y − (1/(m−1)) Σ_{y'≠y} p_{y'}, one example at a time."""
    m = probs.shape[1]
    return np.array(
        [
            p[y] - sum(p[k] for k in range(m) if k != y) / (m - 1)
            for y, p in zip(labels, probs, strict=True)
        ]
    )


def test_teacher_margin_matches_transcription():
    _, labels, probs = _problem()
    np.testing.assert_allclose(
        losses.teacher_margin(labels, probs), _teacher_margin(labels, probs), rtol=1e-5, atol=1e-7
    )


def test_adamargin_loss_matches_transcription():
    logits, labels, probs = _problem()
    margin = 1.0 - _teacher_margin(labels, probs)
    shifted = logits - margin[:, None] * np.eye(NUM_CLASSES)[labels]
    expected = -(probs * _log_softmax(shifted)).sum(axis=1)
    np.testing.assert_allclose(
        losses.adamargin_loss(labels, probs, logits.astype(np.float32)), expected, rtol=1e-5
    )


def test_adamargin_minimizer_boosts_the_label_by_the_margin():
    """softmax(f) ∝ p ⊙ exp(δ e_y) has zero gradient: xent's minimizer on shifted logits."""
    _, labels, probs = _problem(n=10, seed=1)
    margin = 1.0 - _teacher_margin(labels, probs)
    logits = tf.Variable(
        np.log(probs) + margin[:, None] * np.eye(NUM_CLASSES)[labels], dtype=tf.float32
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.adamargin_loss(labels, probs, logits))
    np.testing.assert_allclose(tape.gradient(loss, logits), 0.0, atol=1e-6)


def test_adaalpha_loss_matches_transcription():
    logits, labels, probs = _problem()
    mix = np.maximum(_teacher_margin(labels, probs), 0.0)
    assert 0 < np.count_nonzero(mix) < len(mix), "the data should exercise both branches"
    log_probs = _log_softmax(logits)
    hard = -log_probs[np.arange(len(labels)), labels]
    soft = -(probs * log_probs).sum(axis=1)
    np.testing.assert_allclose(
        losses.adaalpha_loss(labels, probs, logits.astype(np.float32)),
        (1 - mix) * hard + mix * soft,
        rtol=1e-5,
    )
