"""SLaM for linear models: learning γ-margin halfspaces under random classification noise.

Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee. SLaM: Student-Label Mixing for
Distillation with Unlabeled Examples. NeurIPS 2023, §5 and App. E: Algorithm 3 (SGD on
the SLaM loss with step size 1/r, Lemma E.3), Theorem 5.1 / E.1 and Remark 5.2 (random
classification noise is a teacher of constant accuracy α > 1/2).

Labels are ±1: +1 means w*·x > 0, the paper's class 0 (g_0(x) = 1{w*·x > 0}). The student
is f_0(x; w) = σ(w·x), the probability of +1. Everything here is numpy (and scikit-learn
for the logistic-regression baseline).
"""

import numpy as np
from scipy import special
from sklearn.linear_model import LogisticRegression

from tf_robust_distill import checks


def binary_mix(student_prob, alpha):
    """mix(f_0; α) = α f_0 + (1 − α)(1 − f_0), the binary mixing of App. E (k = 2)."""
    return alpha * student_prob + (1.0 - alpha) * (1.0 - student_prob)


def slam_linear_step(w, x, teacher_label, alpha):
    """−λ g of Algorithm 3 for one example: sgn(2α − 1)(y_0 − mix(f_0(x; w); α)) x.

    By Lemma E.3 the SLaM gradient is g = r · sgn(2α − 1)(mix(f_0) − y_0) x, so with the
    step size λ = 1/r the factor r cancels; the update is computed in this cancelled form,
    which stays finite where f_0 saturates to 0 or 1 (r → 0).
    """
    teacher_class0 = float(teacher_label > 0)
    mixed = binary_mix(special.expit(x @ w), alpha)
    return np.sign(2 * alpha - 1) * (teacher_class0 - mixed) * x


def fit_slam_linear(x, teacher_labels, alpha, num_steps, seed=0):
    """Algorithm 3: w ← 0, then `num_steps` updates w ← w − λ g on examples drawn uniformly.

    Theorem 5.1 assumes ‖x‖ <= 1, a γ-margin ground truth, and |α(x) − 1/2| >= β > 0, and
    guarantees an iterate of error <= ε after O(1/(β² γ² ε²)) steps; the last iterate is
    returned. Examples are drawn with replacement from (x, teacher_labels), the empirical
    version of "draw x ~ X and label it with the teacher".

    Args:
      x: [n, d] examples with norms <= 1.
      teacher_labels: [n] noisy ±1 labels.
      alpha: teacher accuracy α(x) in [0, 1], a number or an [n] array; α = 1/2 carries
        no information and gives no update.
      num_steps: T >= 1.
      seed: seed of the example draws.

    Returns:
      w [d].
    """
    x = np.asarray(x, dtype=np.float64)
    teacher_labels = np.asarray(teacher_labels)
    if x.ndim != 2 or teacher_labels.shape != x.shape[:1]:
        raise ValueError(
            f"x must be [n, d] and teacher_labels [n]; got {x.shape} and {teacher_labels.shape}."
        )
    if not np.all(np.isin(teacher_labels, (-1, 1))):
        raise ValueError("teacher_labels must be +1 or -1.")
    if np.linalg.norm(x, axis=1).max() > 1 + 1e-9:
        raise ValueError("Algorithm 3 assumes ||x|| <= 1 for every example; rescale x.")
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), teacher_labels.shape)
    if alpha.min() < 0 or alpha.max() > 1:
        raise ValueError(f"alpha must lie in [0, 1], got values in [{alpha.min()}, {alpha.max()}].")
    if not checks.is_integer(num_steps) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}.")
    rng = np.random.default_rng(seed)
    w = np.zeros(x.shape[1])
    for i in rng.integers(len(x), size=num_steps):
        w += slam_linear_step(w, x[i], teacher_labels[i], alpha[i])
    return w


def theorem_steps(beta, margin, epsilon):
    """T = ⌈1/(β² γ² ε²)⌉, Theorem 5.1's number of steps with its constant set to 1."""
    return int(np.ceil(1.0 / (beta**2 * margin**2 * epsilon**2)))


def run_algorithm_3(draw, alpha, num_steps, rng, x_eval, labels_eval, eval_every=1000):
    """Algorithm 3 as written: every step a fresh example x ~ X and a fresh teacher label.

    Theorem 5.1: within T = O(1/(β²γ²ε²)) steps some iterate has error <= ε (opt = 0
    for a γ-margin halfspace under random classification noise, Remark 5.2). Returns the
    last iterate and the best of the iterates checked every `eval_every` steps (and the
    last), scored by `halfspace_error` on the clean held-out (x_eval, labels_eval).

    Args:
      draw: (num, rng) -> (x [num, d] with norms <= 1, clean ±1 labels [num]).
      alpha: the teacher's accuracy α in [0, 1]: each label is kept with probability α,
        flipped otherwise, afresh at every step.
      num_steps: T >= 1.
      rng: numpy Generator of the draws and the noise.

    Returns:
      (w_last, w_best, best_error).
    """
    if not checks.is_integer(num_steps) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}.")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}.")
    w, w_best, best_error = None, None, np.inf
    done = 0
    while done < num_steps:
        block = min(eval_every, num_steps - done)
        x, labels = draw(block, rng)
        noisy = np.where(rng.random(block) < alpha, labels, -labels)
        w = np.zeros(x.shape[1]) if w is None else w
        for i in range(block):
            w += slam_linear_step(w, x[i], noisy[i], alpha)
        done += block
        error = halfspace_error(w, x_eval, labels_eval)
        if error < best_error:
            w_best, best_error = w.copy(), error
    return w, w_best, best_error


def fit_logistic_regression(x, teacher_labels):
    """The baseline: logistic regression on the noisy labels (no intercept, almost no penalty)."""
    model = LogisticRegression(fit_intercept=False, C=1e4, max_iter=1000)
    return model.fit(x, teacher_labels).coef_[0]


def halfspace_error(w, x, labels):
    """P[sign(w·x) ≠ label] on (x, labels), the 0-1 error err of §3 (sign 0 counts as wrong)."""
    return float(np.mean(np.sign(x @ w) != labels))


def random_classification_noise(labels, noise_rate, rng):
    """Flip each ±1 label independently with probability η: a teacher of accuracy α = 1 − η."""
    if not 0 <= noise_rate < 0.5:
        raise ValueError(f"noise_rate must lie in [0, 0.5), got {noise_rate!r}.")
    return np.where(rng.random(len(labels)) < noise_rate, -labels, labels)


def sphere_halfspace(num_examples, dim, margin, rng):
    """x uniform on the unit sphere of R^d conditioned on |w*·x| >= γ; w* uniform.

    Returns:
      (x [n, d], labels [n] = sign(w*·x), w* [d]).
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin must lie in [0, 1), got {margin!r}.")
    w_star = rng.normal(size=dim)
    w_star /= np.linalg.norm(w_star)
    kept = []
    while sum(len(block) for block in kept) < num_examples:
        block = rng.normal(size=(2 * num_examples, dim))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        kept.append(block[np.abs(block @ w_star) >= margin])
    x = np.concatenate(kept)[:num_examples]
    return x, np.sign(x @ w_star), w_star


def convex_loss_trap_halfspace(num_examples, margin, rng):
    """A 2-D γ-margin distribution on which convex surrogates fail under label noise.

    In the spirit of Long & Servedio (2010, "Random classification noise defeats all
    convex potential boosters"): w* = (1, 0); with probability 1/4 the large-margin point
    (1, 0), 1/2 the "penalizer" (γ, −γ), 1/4 the "puller" (γ, 5γ), each multiplied by a
    random sign that is also its label. Every point has margin γ and norm <= 1 for
    γ <= 1/√26. Noisy flips of the large-margin point weigh so much on a convex loss
    that its minimizer tilts towards the pullers and misclassifies the penalizers.

    The trap needs a small margin: the logistic loss's population minimizer under
    random classification noise η (the three point masses, minimized numerically)
    misclassifies the penalizers, error 1/2, for γ up to about 0.055 at η = 0.1 and 0.075
    at η = 0.3, and classifies every point correctly above (e.g. at γ = 0.1).

    Returns:
      (x [n, 2], labels [n], w* [2]).
    """
    if not 0 < margin <= 1 / np.sqrt(26):
        raise ValueError(f"margin must lie in (0, 1/sqrt(26)], got {margin!r}.")
    points = np.array([[1.0, 0.0], [margin, -margin], [margin, 5 * margin]])
    kind = rng.choice(3, size=num_examples, p=[0.25, 0.5, 0.25])
    labels = rng.choice([-1.0, 1.0], size=num_examples)
    return points[kind] * labels[:, None], labels, np.array([1.0, 0.0])
