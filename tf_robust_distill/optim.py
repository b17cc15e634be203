"""Optimizers and the papers' learning-rate schedules.

Robust distillation paper App. E.2.2: SGD with momentum 0.9, linear warm-up, then
step decays by 0.1 (e.g. CIFAR-10-LT: warm-up to epoch 15, decays after epochs 96,
192, 224 of 256). SoTeacher App. D: SGD 0.05, decays by 0.1 at 150/180/210 of 240.
Unlabeled-distillation papers: Adam 1e-3 with step decays.
"""

import keras

OPTIMIZERS = ("sgd", "adam")


@keras.saving.register_keras_serializable(package="tf_robust_distill")
class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup_steps`, then × `factor` after each boundary.

    lr(t) = peak · (t + 1) / warmup_steps            for t < warmup_steps,
    lr(t) = peak · factor^(#boundaries ≤ t)          afterwards.
    """

    def __init__(self, peak, warmup_steps=0, boundaries=(), factor=0.1):
        if peak <= 0:
            raise ValueError(f"learning rate must be > 0, got {peak}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"decay boundaries must be increasing, got {list(boundaries)}")
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.boundaries = tuple(int(b) for b in boundaries)
        self.factor = float(factor)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        decays = sum(keras.ops.cast(step >= boundary, "float32") for boundary in self.boundaries)
        decayed = self.peak * keras.ops.power(self.factor, decays)
        if self.warmup_steps == 0:
            return decayed
        warm = self.peak * (step + 1.0) / self.warmup_steps
        return keras.ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "boundaries": list(self.boundaries),
            "factor": self.factor,
        }


def steps_per_epoch(train_config, num_examples):
    """Optimizer steps in one epoch over `num_examples` with the config's batching."""
    if train_config.drop_remainder:
        return num_examples // train_config.batch_size
    return -(-num_examples // train_config.batch_size)


def make_optimizer(train_config, steps_per_epoch):
    """An optimizer from a config's `train` section.

    Keys: ``optimizer`` (sgd | adam), ``learning_rate``, ``momentum`` (SGD),
    ``warmup_epochs``, ``decay_epochs`` (epochs after which the rate is multiplied
    by ``decay_factor``).
    """
    if train_config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {train_config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}"
        )
    schedule = WarmupStepDecay(
        train_config.learning_rate,
        warmup_steps=train_config.warmup_epochs * steps_per_epoch,
        boundaries=[epoch * steps_per_epoch for epoch in train_config.decay_epochs],
        factor=train_config.decay_factor,
    )
    if train_config.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=train_config.momentum)
    return keras.optimizers.Adam(schedule)
