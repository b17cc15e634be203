"""Test session setup: two logical CPU devices so MirroredStrategy tests run on one CPU."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """MirroredStrategy over the two logical CPU devices.

    One instance for the whole session: strategies created side by side in one process
    hand out overlapping collective instance keys, and a collective of one (e.g. an
    all-gather) then meets another's (an all-reduce) under the same key.
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
