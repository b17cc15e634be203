r"""SLaM for linear models (Algorithm 3 as written) on halfspaces with random classification noise.

  python -m experiments.slam_halfspaces
  python -m experiments.slam_halfspaces --distributions=sphere --dim=20 --noise_rates=0.1,0.3

Algorithm 3 draws a fresh example and a fresh noisy teacher label at every step (random
classification noise: a teacher of accuracy α = 1 − η, SLaM Remark 5.2). Theorem 5.1:
after T = O(1/(β² γ² ε²)) steps, β = |α − 1/2|, some iterate has error <= opt + ε, and
opt = 0 for a γ-margin halfspace. Each row runs T = ⌈1/(β²γ²ε²)⌉ steps (the theorem's
constant set to 1, capped by --max_steps on CPU), and reports the clean test error of the
last iterate and of the best iterate (checked every --eval_every steps on a clean
held-out sample), averaged over seeds; the verdict is whether the best iterate is within
ε of opt in every seed. Logistic regression on --num_train fixed noisy labels is printed
beside it for reference. Distributions: 'trap' (`slam_linear.convex_loss_trap_halfspace`,
where convex losses fail under noise, at margins up to about 0.05: at γ = 0.1 logistic
regression is not trapped, its docstring says where the trap holds) and 'sphere' (uniform
on the unit sphere of R^dim with a margin). At the defaults (γ = 0.05) T is the theorem's
count at η = 0.1 and a quarter of it at η = 0.3.
"""

import numpy as np
from absl import app, flags

from tf_robust_distill import slam_linear

_DISTRIBUTIONS = flags.DEFINE_list("distributions", ["trap", "sphere"], "'trap' and/or 'sphere'.")
_MARGINS = flags.DEFINE_list("margins", ["0.05"], "Margins γ of the ground truth.")
_NOISE_RATES = flags.DEFINE_list("noise_rates", ["0.1", "0.3"], "Label flip probabilities η.")
_EPSILON = flags.DEFINE_float("epsilon", 0.05, "Target error ε of Theorem 5.1.")
_MAX_STEPS = flags.DEFINE_integer("max_steps", 1_000_000, "Cap on T for CPU.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 2000, "Steps between checks of the iterate.")
_DIM = flags.DEFINE_integer("dim", 10, "Dimension of the 'sphere' distribution.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 2000, "Noisy examples of logistic regression.")
_NUM_TEST = flags.DEFINE_integer("num_test", 20000, "Clean test examples.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Repetitions (seeds 0 .. seeds-1) averaged per row.")


def sampler(distribution, margin, seed):
    """draw(num, rng) -> (x, clean labels) of one fixed ground truth (chosen by `seed`)."""
    if distribution == "trap":
        return lambda num, rng: slam_linear.convex_loss_trap_halfspace(num, margin, rng)[:2]
    if distribution == "sphere":
        w_star = slam_linear.sphere_halfspace(1, _DIM.value, margin, np.random.default_rng(seed))[2]

        def draw(num, rng):
            kept = []
            while sum(len(block) for block in kept) < num:
                block = rng.normal(size=(2 * num, _DIM.value))
                block /= np.linalg.norm(block, axis=1, keepdims=True)
                kept.append(block[np.abs(block @ w_star) >= margin])
            x = np.concatenate(kept)[:num]
            return x, np.sign(x @ w_star)

        return draw
    raise app.UsageError(f"unknown distribution {distribution!r}; use 'trap' or 'sphere'.")


def errors(distribution, margin, noise_rate, seed, num_steps):
    """Clean test errors (logistic regression, SLaM last iterate, SLaM best iterate)."""
    rng = np.random.default_rng(seed)
    draw = sampler(distribution, margin, seed)
    x_test, labels_test = draw(_NUM_TEST.value, rng)
    x_check, labels_check = draw(_NUM_TEST.value, rng)
    x_train, labels_train = draw(_NUM_TRAIN.value, rng)
    noisy = slam_linear.random_classification_noise(labels_train, noise_rate, rng)
    logistic = slam_linear.fit_logistic_regression(x_train, noisy)
    last, best, _ = slam_linear.run_algorithm_3(
        draw, 1 - noise_rate, num_steps, rng, x_check, labels_check, _EVAL_EVERY.value
    )
    return tuple(
        slam_linear.halfspace_error(w, x_test, labels_test) for w in (logistic, last, best)
    )


def row(distribution, margin, noise_rate):
    """One markdown table row: T, the errors averaged over the seeds, and the verdict."""
    epsilon = _EPSILON.value
    theorem = slam_linear.theorem_steps(abs(0.5 - noise_rate), margin, epsilon)
    num_steps = min(theorem, _MAX_STEPS.value)
    runs = np.array(
        [errors(distribution, margin, noise_rate, s, num_steps) for s in range(_SEEDS.value)]
    )
    logistic, last, best = runs.mean(axis=0)
    verdict = "yes" if (runs[:, 2] <= epsilon).all() else "no"
    return (
        f"| {distribution} | {margin:g} | {noise_rate:g} | {num_steps:,} of {theorem:,} | "
        f"{logistic:.4f} | {last:.4f} | {best:.4f} | {verdict} |"
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    rows = [
        f"| distribution | margin γ | noise η | steps T (of 1/(β²γ²ε²)) | logistic regression "
        f"| SLaM last iterate | SLaM best iterate | best within ε = {_EPSILON.value:g} of opt 0 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for distribution in _DISTRIBUTIONS.value:
        for margin in map(float, _MARGINS.value):
            for noise_rate in map(float, _NOISE_RATES.value):
                rows.append(row(distribution, margin, noise_rate))
    print("\n".join(rows))


if __name__ == "__main__":
    app.run(main)
