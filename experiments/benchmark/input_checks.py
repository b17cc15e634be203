"""Cost of the host-side input checks `DistillationModel.fit` runs on numpy inputs.

  python -m experiments.benchmark.input_checks

Fashion-MNIST-sized arrays: 60,000 images of 28x28x1, their labels and teacher
probabilities [60,000, 10]. The checks run once per `fit`, never in the train step.
"""

import timeit

import numpy as np

from tf_robust_distill.objectives.array_inputs import check_inputs

NUM_EXAMPLES, NUM_CLASSES = 60_000, 10


def main(repeats=5):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(NUM_EXAMPLES, 28, 28, 1)).astype(np.float32)
    targets = {
        "label": rng.integers(0, NUM_CLASSES, NUM_EXAMPLES).astype(np.int32),
        "teacher_probs": rng.dirichlet(np.ones(NUM_CLASSES), NUM_EXAMPLES).astype(np.float32),
    }
    seconds = timeit.repeat(lambda: check_inputs(x, targets, NUM_CLASSES), number=1, repeat=repeats)
    print(
        f"input checks, {NUM_EXAMPLES:,} examples: {min(seconds) * 1e3:.1f} ms (best of {repeats})"
    )


if __name__ == "__main__":
    main()
