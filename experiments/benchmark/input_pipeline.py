"""Three training epochs of `data.training_pipeline`, in memory against streamed.

  python -m experiments.benchmark.input_pipeline

The unlabeled job's student training set: 59,750 Fashion-MNIST-sized examples (28x28x1),
selected from 60,000 by position as the job does (`data.select_positions`), batches of
64 with their teacher probabilities [n, 10], 3 epochs as in the job's grids. Times the
building of the pipeline (in memory: the one pass that reads the examples) and the reading
of the epochs, with the examples held in memory (the default below
`input_pipeline.IN_MEMORY_BYTES`) and streamed through the shuffle; both give the same
batches (tests/test_in_memory_pipeline.py).
"""

import time

import numpy as np
import tensorflow as tf

from tf_robust_distill.data import input_pipeline, select_positions, training_pipeline

NUM_EXAMPLES, NUM_SELECTED, NUM_CLASSES, BATCH, EPOCHS = 60_000, 59_750, 10, 64, 3


def seconds(dataset, teacher_probs, seed):
    """(build, read) seconds of one pipeline of EPOCHS epochs."""
    start = time.perf_counter()
    pipeline = training_pipeline(
        dataset, BATCH, seed=seed, per_example={"teacher_probs": teacher_probs}, epochs=EPOCHS
    )
    built = time.perf_counter()
    for _ in pipeline:
        pass
    return built - start, time.perf_counter() - built


def main(repeats=3):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(NUM_EXAMPLES, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, NUM_EXAMPLES).astype(np.int32)
    source = tf.data.Dataset.from_tensor_slices((x, labels)).cache()
    for _ in source.batch(8192):  # fill the cache, as a loaded split's first pass does
        pass
    positions = np.sort(rng.choice(NUM_EXAMPLES, NUM_SELECTED, replace=False))
    dataset = select_positions(source, positions)
    teacher_probs = rng.dirichlet(np.ones(NUM_CLASSES), NUM_SELECTED).astype(np.float32)
    in_memory_bytes = input_pipeline.IN_MEMORY_BYTES
    for name, budget in (("in memory", in_memory_bytes), ("streamed", 0)):
        input_pipeline.IN_MEMORY_BYTES = budget
        build, read = np.median(
            [seconds(dataset, teacher_probs, seed) for seed in range(repeats)], axis=0
        )
        print(
            f"{name}: {EPOCHS} epochs of {NUM_SELECTED:,} examples in batches of {BATCH}: "
            f"built in {build:.2f} s, read in {read:.2f} s, {build + read:.2f} s in all "
            f"(medians of {repeats})"
        )
    input_pipeline.IN_MEMORY_BYTES = in_memory_bytes


if __name__ == "__main__":
    main()
