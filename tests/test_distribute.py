"""Strategies by name."""

import pytest
import tensorflow as tf

from tf_robust_distill.distribute import get_strategy


def test_default_and_mirrored():
    assert get_strategy("default") is tf.distribute.get_strategy()
    mirrored = get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync >= 1


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="default, mirrored, multiworker, tpu"):
        get_strategy("horovod")


def test_tpu_address_needs_the_tpu_strategy():
    with pytest.raises(ValueError, match="strategy='tpu'"):
        get_strategy("mirrored", tpu="grpc://10.0.0.2:8470")
