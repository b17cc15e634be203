r"""SLaM for linear models (Algorithm 3) against logistic regression on noisy halfspace labels.

  python -m experiments.slam_halfspaces
  python -m experiments.slam_halfspaces --distributions=sphere --dim=20 --noise_rates=0.1,0.3

Draws γ-margin halfspace data, flips every training label with probability η (random
classification noise, i.e. a teacher of accuracy α = 1 − η, SLaM Remark 5.2), trains
SLaM's linear student (Algorithm 3, α known) and logistic regression on the noisy labels,
and prints the test error against the clean labels, averaged over seeds, as a markdown
table. Distributions: 'trap' (the 2-D distribution of
`slam_linear.convex_loss_trap_halfspace`, where convex losses fail under noise) and
'sphere' (uniform on the unit sphere of R^dim with a margin, where they do not).
"""

import numpy as np
from absl import app, flags

from tf_robust_distill import slam_linear

_DISTRIBUTIONS = flags.DEFINE_list("distributions", ["trap", "sphere"], "'trap' and/or 'sphere'.")
_MARGINS = flags.DEFINE_list("margins", ["0.05", "0.1"], "Margins γ of the ground truth.")
_NOISE_RATES = flags.DEFINE_list("noise_rates", ["0.1", "0.3"], "Label flip probabilities η.")
_DIM = flags.DEFINE_integer("dim", 10, "Dimension of the 'sphere' distribution.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 2000, "Noisy training examples.")
_NUM_TEST = flags.DEFINE_integer("num_test", 20000, "Clean test examples.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 20000, "SGD steps T of Algorithm 3.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Repetitions (seeds 0 .. seeds-1) averaged per row.")


def sample(distribution, num_examples, margin, rng):
    """(x, labels) from `distribution` with the ground truth fixed by `rng`'s first draws."""
    if distribution == "trap":
        x, labels, _ = slam_linear.convex_loss_trap_halfspace(num_examples, margin, rng)
        return x, labels
    if distribution == "sphere":
        x, labels, _ = slam_linear.sphere_halfspace(num_examples, _DIM.value, margin, rng)
        return x, labels
    raise app.UsageError(f"unknown distribution {distribution!r}; use 'trap' or 'sphere'.")


def errors(distribution, margin, noise_rate, seed):
    """Clean test errors (logistic regression, SLaM) for one seed."""
    rng = np.random.default_rng(seed)
    x, labels = sample(distribution, _NUM_TRAIN.value + _NUM_TEST.value, margin, rng)
    x_train, x_test = x[: _NUM_TRAIN.value], x[_NUM_TRAIN.value :]
    labels_test = labels[_NUM_TRAIN.value :]
    noisy = slam_linear.random_classification_noise(labels[: _NUM_TRAIN.value], noise_rate, rng)
    logistic = slam_linear.fit_logistic_regression(x_train, noisy)
    slam = slam_linear.fit_slam_linear(x_train, noisy, 1 - noise_rate, _NUM_STEPS.value, seed)
    return (
        slam_linear.halfspace_error(logistic, x_test, labels_test),
        slam_linear.halfspace_error(slam, x_test, labels_test),
    )


def row(distribution, margin, noise_rate):
    """One markdown table row: the errors averaged over the seeds."""
    logistic, slam = np.mean(
        [errors(distribution, margin, noise_rate, seed) for seed in range(_SEEDS.value)], axis=0
    )
    return f"| {distribution} | {margin:g} | {noise_rate:g} | {logistic:.4f} | {slam:.4f} |"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    rows = [
        "| distribution | margin γ | noise η | logistic regression error | SLaM error |",
        "| --- | --- | --- | --- | --- |",
    ]
    for distribution in _DISTRIBUTIONS.value:
        for margin in map(float, _MARGINS.value):
            for noise_rate in map(float, _NOISE_RATES.value):
                rows.append(row(distribution, margin, noise_rate))
    print("\n".join(rows))


if __name__ == "__main__":
    app.run(main)
