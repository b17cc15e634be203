"""What every measurement shares: the batch, the classes, the inputs, and how much to measure."""

import dataclasses

BATCH_SIZE = 128
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
TEACHER_FEATURE_DIM = 64


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much to measure.

    Attributes:
      steps: net -> optimizer steps per timed repetition (one fit epoch over fixed
        batches); every objective is compared with plain Keras on each of these nets.
      repetitions: interleaved repetitions per comparison.
      jit_nets: nets of the jit_compile on/off ratios.
      estimator_sizes: numbers of unlabeled examples of the estimator timings.
      estimator_repetitions: timings per estimator size (the median is kept).
      validation_examples: |V| of the multiplier update.
    """

    steps: dict
    repetitions: int
    jit_nets: tuple
    estimator_sizes: tuple
    estimator_repetitions: int
    validation_examples: int


QUICK = Settings(
    steps={"cnn_small": 8, "mlp": 40},
    repetitions=4,
    jit_nets=("mlp",),  # XLA compiles a cnn_small step in ~5 CPU seconds per objective
    estimator_sizes=(10_000, 31_623, 100_000),
    estimator_repetitions=3,
    validation_examples=2_560,
)
FULL = Settings(
    steps={"cnn_small": 30, "mlp": 150},
    repetitions=9,
    jit_nets=("cnn_small", "mlp"),
    estimator_sizes=(10_000, 100_000, 1_000_000),
    estimator_repetitions=3,
    validation_examples=5_000,
)
