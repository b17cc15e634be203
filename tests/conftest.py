"""Test session setup: two logical CPU devices so MirroredStrategy tests run on one CPU."""

import itertools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
_KEY_BASES = itertools.count(start=1)


@pytest.fixture
def two_cpu_strategy(monkeypatch):
    """A fresh MirroredStrategy over the two logical CPU devices, on collective keys of its own.

    Strategies built in one process number their collectives from the same keys, so a
    later strategy running another program would meet an earlier one's collectives (a
    shape or type mismatch). TensorFlow reserves ``_collective_key_base`` for tests to
    keep strategies apart.
    """
    base = 100_000 * next(_KEY_BASES)
    monkeypatch.setattr(tf.distribute.MirroredStrategy, "_collective_key_base", base)
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
