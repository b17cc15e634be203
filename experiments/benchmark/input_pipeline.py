"""The data work of one unlabeled-grid cell, in memory against streamed.

  python -m experiments.benchmark.input_pipeline

The unlabeled job's student training set: 59,750 Fashion-MNIST-sized examples (28x28x1),
selected from 60,000 by position as the job does (`data.select_positions`), its
fingerprint (what the student's checkpoints are keyed by), and 3 epochs of
`data.training_pipeline` in batches of 64 with their teacher probabilities [n, 10], as in
the job's grids. Times each step with the data held in memory (the default below
`in_memory.IN_MEMORY_BYTES`) and streamed (the budget set to 0); both give the same
elements, fingerprints and batches (tests/test_in_memory_pipeline.py).
"""

import time

import numpy as np
import tensorflow as tf

from tf_robust_distill.data import in_memory, select_positions, training_pipeline
from tf_robust_distill.data.fingerprint import dataset_fingerprint

NUM_EXAMPLES, NUM_SELECTED, NUM_CLASSES, BATCH, EPOCHS = 60_000, 59_750, 10, 64, 3


def seconds(source, positions, teacher_probs, seed):
    """(select, fingerprint, build, read) seconds of one selection and its EPOCHS epochs."""
    times = [time.perf_counter()]
    dataset = select_positions(source, positions)
    times.append(time.perf_counter())
    dataset_fingerprint(dataset)
    times.append(time.perf_counter())
    pipeline = training_pipeline(
        dataset, BATCH, seed=seed, per_example={"teacher_probs": teacher_probs}, epochs=EPOCHS
    )
    times.append(time.perf_counter())
    for _ in pipeline:
        pass
    times.append(time.perf_counter())
    return np.diff(times)


def main(repeats=3):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(NUM_EXAMPLES, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, NUM_EXAMPLES).astype(np.int32)
    source = tf.data.Dataset.from_tensor_slices((x, labels)).cache()
    for _ in source.batch(8192):  # fill the cache, as a loaded split's first pass does
        pass
    positions = np.sort(rng.choice(NUM_EXAMPLES, NUM_SELECTED, replace=False))
    teacher_probs = rng.dirichlet(np.ones(NUM_CLASSES), NUM_SELECTED).astype(np.float32)
    in_memory_bytes = in_memory.IN_MEMORY_BYTES
    for name, budget in (("in memory", in_memory_bytes), ("streamed", 0)):
        in_memory.IN_MEMORY_BYTES = budget
        select, fingerprint, build, read = np.median(
            [seconds(source, positions, teacher_probs, seed) for seed in range(repeats)], axis=0
        )
        print(
            f"{name}: {NUM_SELECTED:,} examples selected in {select:.2f} s, fingerprinted in "
            f"{fingerprint:.2f} s; {EPOCHS} epochs in batches of {BATCH}: built in "
            f"{build:.2f} s, read in {read:.2f} s; "
            f"{select + fingerprint + build + read:.2f} s in all (medians of {repeats})"
        )
    in_memory.IN_MEMORY_BYTES = in_memory_bytes


if __name__ == "__main__":
    main()
