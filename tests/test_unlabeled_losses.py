"""Losses of distillation with unlabeled examples: transcriptions and the papers' properties."""

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill import losses as ul

NUM_CLASSES = 5


def _log_softmax(f):
    f = f - f.max(axis=-1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=-1, keepdims=True))


def _mixing_inputs(seed, n=16, c=NUM_CLASSES):
    """Student probabilities, α in [0, 1], top-k masks of a teacher's soft labels, k in 1..C."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(c), size=n).astype(np.float32)
    alpha = rng.uniform(0.0, 1.0, size=n).astype(np.float32)
    teacher = rng.dirichlet(np.ones(c), size=n)
    k = rng.integers(1, c + 1, size=n)
    topk = np.zeros((n, c), np.float32)
    for i in range(n):
        topk[i, np.argsort(-teacher[i])[: k[i]]] = 1.0
    return probs, alpha, topk


def _mix_transcription(f, alpha, topk, normalize):
    """Eq. (1) (normalize) or Remark B.1, element by element."""
    n, c = f.shape
    mixed = np.zeros((n, c))
    for i in range(n):
        k = topk[i].sum()
        for j in range(c):
            noise = (1 - alpha[i]) * topk[i, j] * (1 - f[i, j])
            if normalize:
                noise = noise / (k - 1) if k > 1 else 0.0
            mixed[i, j] = alpha[i] * f[i, j] + noise
    return mixed


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_slam_mix_matches_eq1_and_remark_b1(normalize, seed):
    f, alpha, topk = _mixing_inputs(seed)
    expected = _mix_transcription(f, alpha, topk, normalize)
    np.testing.assert_allclose(ul.slam_mix(f, alpha, topk, normalize), expected, atol=1e-6)


def test_both_mixings_coincide_for_k_equal_two_and_differ_otherwise():
    f, alpha, topk = _mixing_inputs(2)
    plain = ul.slam_mix(f, alpha, topk).numpy()
    normalized = ul.slam_mix(f, alpha, topk, normalize=True).numpy()
    k = topk.sum(axis=1)
    np.testing.assert_allclose(plain[k == 2], normalized[k == 2], atol=1e-7)
    assert np.abs(plain[k > 2] - normalized[k > 2]).max() > 1e-2


def _noisy_teacher_labels(true_labels, alpha, topk, rng):
    """Definition 3.2, row by row: the true label w.p. α, else a uniformly random OTHER class
    of the top-k set. true_labels [n, m] (m draws per example), alpha [n], topk [n, C]."""
    labels = true_labels.copy()
    wrong = rng.random(true_labels.shape) >= alpha[:, None]
    for i, row in enumerate(topk):
        for true_class in np.flatnonzero(row):
            flipped = wrong[i] & (true_labels[i] == true_class)
            others = np.flatnonzero(row)[np.flatnonzero(row) != true_class]
            labels[i, flipped] = rng.choice(others, size=flipped.sum())
    return labels


def _definition_3_2_setting(seed, num_labels):
    """Per example: the true class distribution p on its top-k set T, α(x), and samples of the
    noisy teacher's label: the true label c ~ p, then Definition 3.2's teacher."""
    rng = np.random.default_rng(seed)
    n, c = 4, NUM_CLASSES
    k = np.array([2, 3, 4, 5])
    alpha = np.array([0.7, 0.6, 0.8, 0.65])
    topk = np.zeros((n, c))
    p = np.zeros((n, c))
    for i in range(n):
        members = rng.permutation(c)[: k[i]]
        topk[i, members] = 1
        p[i, members] = rng.dirichlet(np.ones(k[i]))
    true_labels = np.stack([rng.choice(c, size=num_labels, p=p[i]) for i in range(n)])
    teacher = _noisy_teacher_labels(true_labels, alpha, topk, rng)
    frequencies = np.stack([np.bincount(row, minlength=c) / num_labels for row in teacher])
    return p, alpha, topk, frequencies


def test_definition_3_2_teacher_has_mean_label_equal_to_normalized_mix_of_truth():
    """App. C: E[y | x] = mix(g(x); α(x), k(x)) with the 1/(k − 1) mixing of eq. (1)."""
    p, alpha, topk, frequencies = _definition_3_2_setting(seed=3, num_labels=200_000)
    expected = ul.slam_mix(p, alpha, topk, normalize=True).numpy()
    np.testing.assert_allclose(frequencies, expected, atol=5e-3)


def _minimizer(loss_fn, shape, steps=4000, learning_rate=2.0):
    """softmax of the free logits (one row per example) minimizing Σ loss_fn(logits), by GD."""
    logits = tf.Variable(tf.zeros(shape))

    @tf.function
    def descend():
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(loss_fn(logits))
            logits.assign_sub(learning_rate * tape.gradient(loss, logits))

    descend()
    return tf.nn.softmax(logits).numpy()


def test_slam_loss_minimizer_recovers_true_class_distribution_and_xent_the_noisy_one():
    """Proposition 3.4 / C.1 with eq. (1): minimizing the expected SLaM loss over the noisy
    teacher labels gives f = p (the true distribution), plain xent gives E[y] = mix(p)."""
    p, alpha, topk, frequencies = _definition_3_2_setting(seed=4, num_labels=100_000)
    targets = tf.constant(frequencies, tf.float32)
    slam = _minimizer(lambda z: ul.slam_loss(targets, z, alpha, topk, normalize=True), p.shape)
    xent = _minimizer(
        lambda z: ul.cross_entropy_of_log_probs(targets, tf.nn.log_softmax(z)), p.shape
    )
    np.testing.assert_allclose(slam, p, atol=0.02)
    np.testing.assert_allclose(xent, frequencies, atol=1e-3)
    assert np.abs(xent - p).max() > 0.1


@pytest.mark.parametrize("base", ["xent", "taylor", "poly"])
def test_unnormalized_slam_loss_minimizer_is_the_true_label(base):
    """Remark B.1's mixing, composed with each loss of App. D.6: with a one-hot ground truth
    and α > 1/2, the loss over Definition 3.2's noisy labels is minimized at f = g(x)."""
    rng = np.random.default_rng(5)
    _, alpha, topk, _ = _definition_3_2_setting(seed=5, num_labels=1)
    truth = np.array([rng.choice(np.flatnonzero(row)) for row in topk])
    teacher = _noisy_teacher_labels(np.repeat(truth[:, None], 50_000, 1), alpha, topk, rng)
    frequencies = np.stack([np.bincount(row, minlength=NUM_CLASSES) / 50_000 for row in teacher])
    targets = tf.constant(frequencies, tf.float32)
    loss = ul.base_loss(base)
    slam = _minimizer(lambda z: ul.slam_loss(targets, z, alpha, topk, loss=loss), topk.shape)
    assert slam[np.arange(len(truth)), truth].min() > 0.97


def test_log_slam_mix_is_the_log_of_the_mix_and_stays_finite_at_extreme_logits():
    f, alpha, topk = _mixing_inputs(6)
    logits = np.log(f)
    for normalize in (False, True):
        np.testing.assert_allclose(
            ul.log_slam_mix(logits, alpha, topk, normalize),
            np.log(_mix_transcription(f, alpha, topk, normalize)),
            rtol=1e-5,
            atol=1e-5,
        )
    extreme = tf.constant([[300.0, 0.0, -300.0]])
    alpha_one = tf.constant([1.0])
    mask = tf.constant([[1.0, 1.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(extreme)
        log_mix = ul.log_slam_mix(extreme, alpha_one, mask)
        loss = ul.slam_loss(tf.constant([[0.2, 0.3, 0.5]]), extreme, alpha_one, mask)
    np.testing.assert_allclose(log_mix[0, 2], -600.0, rtol=1e-6)
    assert np.all(np.isfinite(tape.gradient(loss, extreme)))


@pytest.mark.parametrize("degree", [1, 2, 5])
def test_taylor_cross_entropy_matches_feng_et_al_transcription(degree):
    rng = np.random.default_rng(degree)
    logits = rng.normal(scale=2.0, size=(8, NUM_CLASSES)).astype(np.float32)
    targets = rng.dirichlet(np.ones(NUM_CLASSES), size=8).astype(np.float32)
    p = np.exp(_log_softmax(logits.astype(np.float64)))
    expected = np.zeros(8)
    for i in range(8):
        for c in range(NUM_CLASSES):
            expected[i] += targets[i, c] * sum((1 - p[i, c]) ** j / j for j in range(1, degree + 1))
    np.testing.assert_allclose(
        ul.taylor_cross_entropy(targets, logits, degree), expected, rtol=1e-5
    )


def test_taylor_cross_entropy_approaches_cross_entropy_with_the_degree():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(8, NUM_CLASSES)).astype(np.float32)
    labels = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(0, NUM_CLASSES, 8)]
    xent = -(labels * _log_softmax(logits)).sum(axis=1)
    gaps = [np.abs(ul.taylor_cross_entropy(labels, logits, t) - xent).max() for t in (2, 10, 400)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-4


@pytest.mark.parametrize("epsilon", [-1.0, 0.0, 2.0])
def test_poly1_matches_leng_et_al_transcription(epsilon):
    rng = np.random.default_rng(8)
    logits = rng.normal(scale=2.0, size=(8, NUM_CLASSES)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, 8)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    log_p = _log_softmax(logits.astype(np.float64))
    p_t = np.exp(log_p[np.arange(8), labels])
    expected = -np.log(p_t) + epsilon * (1 - p_t)
    np.testing.assert_allclose(
        ul.poly1_cross_entropy(one_hot, logits, epsilon), expected, rtol=1e-5
    )
    soft = rng.dirichlet(np.ones(NUM_CLASSES), size=8).astype(np.float32)
    expected_soft = -(soft * log_p).sum(1) + epsilon * (1 - (soft * np.exp(log_p)).sum(1))
    np.testing.assert_allclose(
        ul.poly1_cross_entropy(soft, logits, epsilon), expected_soft, rtol=1e-5
    )


def test_slam_loss_with_taylor_and_poly_scores_the_mixed_prediction():
    """App. D.6: ℓ(y, mix(f)) for Taylor-CE and Poly-1, on the mix transcription."""
    f, alpha, topk = _mixing_inputs(9)
    targets = np.random.default_rng(9).dirichlet(np.ones(NUM_CLASSES), size=len(f))
    mixed = _mix_transcription(f, alpha, topk, normalize=False)
    taylor = (targets * sum((1 - mixed) ** j / j for j in (1, 2, 3))).sum(1)
    poly = -(targets * np.log(mixed)).sum(1) + 2.0 * (1 - (targets * mixed).sum(1))
    for loss, expected in (
        (ul.base_loss("taylor", degree=3), taylor),
        (ul.base_loss("poly"), poly),
    ):
        actual = ul.slam_loss(targets, np.log(f), alpha, topk, loss=loss)
        np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_vid_negative_log_likelihood_matches_eqs_4_to_6():
    rng = np.random.default_rng(10)
    teacher = rng.normal(size=(6, 4)).astype(np.float32)
    mean = rng.normal(size=(6, 4)).astype(np.float32)
    parameter = rng.normal(size=4).astype(np.float32)
    variance = np.log1p(np.exp(parameter.astype(np.float64))) + 1e-3
    expected = (np.log(np.sqrt(variance)) + (teacher - mean) ** 2 / (2 * variance)).sum(1)
    actual = ul.vid_negative_log_likelihood(teacher, mean, ul.vid_variance(parameter, 1e-3))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "alpha,topk,message",
    [
        ([1.2, 0.5], [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], "alpha must lie in"),
        ([-0.1, 0.5], [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], "alpha must lie in"),
        ([0.9, 0.5], [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]], "must hold a class"),
        ([0.9, 0.5], [[0.5, 0.0, 1.0], [1.0, 1.0, 0.0]], "must be 0 or 1"),
        ([0.9, 0.5, 0.5], [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], "one row per alpha"),
    ],
)
def test_bad_mixing_inputs_are_rejected(alpha, topk, message):
    with pytest.raises(ValueError, match=message):
        ul.check_mixing_inputs(np.float32(alpha), np.float32(topk))


@pytest.mark.parametrize(
    "alpha,topk",
    [
        (1.5, [0.0, 0.0, 0.0]),
        (np.nan, [0.5, 0.0, 1.0]),
    ],
)
def test_labeled_rows_are_not_checked_and_the_others_are(alpha, topk):
    """SLaM never reads α and top-k on labeled rows: they may hold anything."""
    good_alpha, good_topk = [0.9, 0.5], [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    bad_alpha, bad_topk = [alpha, 0.5], [topk, good_topk[1]]
    ul.check_mixing_inputs(np.float32(bad_alpha), np.float32(bad_topk), labeled=[1.0, 0.0])
    ul.check_mixing_inputs(np.float32(good_alpha), np.float32(good_topk), labeled=[0.0, 0.0])
    with pytest.raises(ValueError):
        ul.check_mixing_inputs(np.float32(bad_alpha), np.float32(bad_topk), labeled=[0.0, 1.0])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"name": "mae"}, "base_loss must be one of"),
        ({"name": "taylor", "degree": 0}, "degree"),
        ({"name": "taylor", "degree": 1.5}, "degree"),
        ({"name": "taylor", "degree": True}, "degree"),
        ({"name": "poly", "epsilon": -1.5}, "epsilon"),
        ({"name": "poly", "epsilon": float("nan")}, "epsilon"),
        ({"name": "poly", "epsilon": float("inf")}, "epsilon"),
        ({"name": "poly", "epsilon": "2"}, "epsilon"),
    ],
)
def test_bad_loss_hyperparameters_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ul.base_loss(**kwargs)
