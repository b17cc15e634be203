"""Learning-rate schedules and optimizers from configs."""

import keras
import ml_collections
import numpy as np
import pytest

from tf_robust_distill.optim import WarmupStepDecay, make_optimizer


def test_warmup_step_decay_matches_the_papers_schedule():
    """Robust paper App. E.2.2 (CIFAR-LT): warm-up 15 epochs, × 0.1 after 96, 192, 224."""
    schedule = WarmupStepDecay(0.1, warmup_steps=15, boundaries=(96, 192, 224), factor=0.1)
    steps = np.arange(256)
    expected = np.where(
        steps < 15,
        0.1 * (steps + 1) / 15,
        0.1 * 0.1 ** np.searchsorted([96, 192, 224], steps, "right"),
    )
    np.testing.assert_allclose([float(schedule(s)) for s in steps], expected, rtol=1e-6)


def test_schedule_round_trips_through_config():
    schedule = WarmupStepDecay(0.05, warmup_steps=3, boundaries=(10, 20), factor=0.5)
    restored = WarmupStepDecay.from_config(schedule.get_config())
    assert [float(restored(s)) for s in range(25)] == [float(schedule(s)) for s in range(25)]


def _train_config(**overrides):
    config = ml_collections.ConfigDict(
        dict(
            optimizer="sgd",
            learning_rate=0.1,
            momentum=0.9,
            warmup_epochs=2,
            decay_epochs=(5,),
            decay_factor=0.1,
        )
    )
    config.update(overrides)
    return config


def test_make_optimizer_counts_epochs_in_steps():
    optimizer = make_optimizer(_train_config(), steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == 0.9
    for step, rate in [(0, 0.005), (19, 0.1), (49, 0.1), (50, 0.01)]:
        optimizer.iterations.assign(step)
        assert float(optimizer.learning_rate) == pytest.approx(rate)
    assert isinstance(make_optimizer(_train_config(optimizer="adam"), 10), keras.optimizers.Adam)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"peak": 0.0}, "learning rate must be > 0"),
        ({"peak": 0.1, "warmup_steps": -1}, "warmup_steps"),
        ({"peak": 0.1, "boundaries": (5, 3)}, "increasing"),
    ],
)
def test_bad_schedules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WarmupStepDecay(**kwargs)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="sgd, adam"):
        make_optimizer(_train_config(optimizer="lamb"), 10)
