"""The robust objectives' multiplier update: its share of training time (outside the step)."""

import numpy as np
import tensorflow as tf

from experiments.benchmark.models import warmed_objective
from experiments.benchmark.settings import BATCH_SIZE, IMAGE_SHAPE, NUM_CLASSES
from experiments.benchmark.timing import CLOCKS, median_step_seconds, timed_seconds
from tf_robust_distill import objectives, reporting

NET = "cnn_small"
EVERY_N_STEPS = 100
VALIDATION_BATCH_SIZE = 256
TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE = 10  # CIFAR: 50k training, 5k validation examples


def validation_set(size):
    """Batched random images with every class present: MultiplierUpdate's validation data."""
    images = np.random.default_rng(1).uniform(size=(size, *IMAGE_SHAPE)).astype(np.float32)
    labels = np.arange(size, dtype=np.int32) % NUM_CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((images, {"label": labels}))
    return dataset.batch(VALIDATION_BATCH_SIZE)


def update_share(update_seconds, step_seconds, steps_between_updates):
    """Share of training time spent in the update: u / (u + steps × step), paired, median."""
    pairs = zip(update_seconds, step_seconds, strict=True)
    shares = [u / (u + steps_between_updates * s) for u, s in pairs]
    return float(np.median(shares))


def multiplier_update_share(net_name, batches, settings):
    """Time of one `MultiplierUpdate.update` over |V| examples against training time.

    The update runs between steps, outside the step ratio. Its share is given for an update
    every epoch of a training set 10x the validation set (CIFAR's 50k / 5k), the epoch
    time being the number of steps times the step, and for an update every 100 steps.
    """
    model, dataset = warmed_objective("rob", net_name, batches)
    update = objectives.MultiplierUpdate(validation_set(settings.validation_examples))
    update.set_model(model)
    update.on_train_begin()
    update.update()  # traces the validation pass
    update_seconds = {clock: [] for clock in CLOCKS}
    step_seconds = {clock: [] for clock in CLOCKS}
    for _ in range(settings.repetitions):
        for clock, value in timed_seconds(update.update).items():
            update_seconds[clock].append(value)
        for clock, value in median_step_seconds(model, dataset).items():
            step_seconds[clock].append(value)
    train_examples = TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE * settings.validation_examples
    return {
        "net": net_name,
        "validation_examples": settings.validation_examples,
        "epoch_train_examples": train_examples,
        **{
            clock: {
                "update_seconds": float(np.median(update_seconds[clock])),
                "step_seconds": float(np.median(step_seconds[clock])),
                "share_of_epoch": update_share(
                    update_seconds[clock], step_seconds[clock], train_examples / BATCH_SIZE
                ),
                "share_every_100_steps": update_share(
                    update_seconds[clock], step_seconds[clock], EVERY_N_STEPS
                ),
            }
            for clock in CLOCKS
        },
    }


def multiplier_table(share):
    """Markdown of `multiplier_update_share`."""
    rows = [
        [
            clock,
            f"{share[clock]['update_seconds']:.3f}",
            f"{1e3 * share[clock]['step_seconds']:.1f}",
            f"{share[clock]['share_of_epoch']:.3f}",
            f"{share[clock]['share_every_100_steps']:.3f}",
        ]
        for clock in CLOCKS
    ]
    return (
        f"## Robust multiplier update (outside the step): {share['net']}, "
        f"|V| = {share['validation_examples']:,}\n\n"
        + reporting.markdown_rows(
            [
                "clock",
                "update s",
                "step ms",
                f"share, every epoch of {share['epoch_train_examples']:,} examples",
                f"share, every {EVERY_N_STEPS} steps",
            ],
            rows,
        )
    )
