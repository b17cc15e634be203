"""Strategies by name, their `reduce` as Keras calls it, and the chief-only directories."""

import atexit
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.distribute import MirroredStrategy, get_strategy, is_chief, worker_directory


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


@pytest.fixture
def two_replicas(two_cpu_strategy):
    """This module's MirroredStrategy over the two logical CPUs, on the collective keys
    that `two_cpu_strategy` set apart for the test."""
    del two_cpu_strategy
    return MirroredStrategy(["/cpu:0", "/cpu:1"])


def test_mirrored_evaluate_with_a_batch_split_unevenly(two_replicas):
    """Keras builds the model from a MEAN of the first batch: 7 examples split 4 + 3."""
    x = np.linspace(-1, 1, 35, dtype=np.float32).reshape(7, 5)
    y = np.arange(7) % 3
    losses = []
    for strategy in (tf.distribute.get_strategy(), two_replicas):
        with strategy.scope():
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.set_weights([np.full((5, 3), 0.1, np.float32), np.arange(3, dtype=np.float32)])
        losses.append(
            model.evaluate(tf.data.Dataset.from_tensor_slices((x, y)).batch(7), verbose=0)
        )
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_reduce_of_nests_and_scalars(two_replicas):
    strategy = two_replicas

    def per_replica():
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.float32)
        return {"vector": tf.stack([replica, 10.0 + replica]), "scalar": 2.0 * replica}

    values = strategy.run(per_replica)
    sums = strategy.reduce("SUM", values, axis=None)
    np.testing.assert_allclose(sums["vector"], [1.0, 21.0])
    np.testing.assert_allclose(sums["scalar"], 2.0)
    first = strategy.reduce("MEAN", values, axis=None)  # Keras's symbolic build: shapes only
    np.testing.assert_allclose(first["vector"], [0.0, 10.0])
    np.testing.assert_allclose(strategy.reduce("MEAN", values["scalar"], axis=0), 1.0)
    np.testing.assert_allclose(strategy.reduce("MEAN", values["vector"], axis=0), 5.5)


class _Worker:
    """Stands in for a strategy on a non-chief worker (`is_chief` reads should_checkpoint)."""

    class extended:  # noqa: N801 (mirrors Strategy.extended)
        should_checkpoint = False


def test_only_the_chief_writes_in_the_directory(tmp_path, monkeypatch):
    directory = tmp_path / "workdir"
    directory.mkdir()
    (directory / "teacher.keras").write_text("cached")
    assert is_chief(tf.distribute.get_strategy())
    assert worker_directory(str(directory), tf.distribute.get_strategy()) == str(directory)

    removed_at_exit = []
    monkeypatch.setattr(
        atexit, "register", lambda *args, **kwargs: removed_at_exit.append((args, kwargs))
    )
    assert not is_chief(_Worker())
    empty = worker_directory(str(directory), _Worker())
    copied = worker_directory(str(directory), _Worker(), copy=True)
    assert len({empty, copied, str(directory)}) == 3
    assert os.listdir(empty) == []
    assert open(os.path.join(copied, "teacher.keras")).read() == "cached"
    for (function, *args), kwargs in removed_at_exit:
        function(*args, **kwargs)
    assert not os.path.exists(empty) and not os.path.exists(copied)
    assert os.listdir(directory) == ["teacher.keras"]
