"""tf.distribute strategies by name.

Build models, optimizers and metrics inside ``get_strategy(name).scope()``; the
objectives reduce their losses over the global batch, so results do not depend on
the number of replicas.

In a multi-worker run every worker runs the same program; only the chief's files
are kept (`is_chief`, `worker_directory`).
"""

import atexit
import glob
import shutil
import tempfile

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu", "auto")


class KerasReduce:
    """`Strategy.reduce` as Keras 3 calls it (mixed into the strategies of `get_strategy`).

    Keras 3.15's `fit` and `evaluate` fail, with these strategies as they come, on
    three kinds of calls (keras-team/keras#20585):

    - Before the first step, Keras reduces the first (x, targets) batch with MEAN to
      build the model from its shapes. When a batch splits unevenly over the replicas
      (a partial last batch, an odd batch size, a validation set smaller than one
      batch) the replicas' parts differ in shape and cannot be averaged (MirroredStrategy
      too). A nest (tuple, dict) reduced with MEAN gives here the first local replica's
      part, which has the shapes Keras needs.
    - Across workers, a nest reduced with SUM (`MultiplierUpdate`'s class sums):
      MultiWorkerMirroredStrategy reduces single values only; here leaf by leaf, as
      MirroredStrategy does.
    - Across workers, the step's logs, per-replica scalars, are reduced with MEAN and
      ``axis=0``, meant as the mean over replicas (what Keras computes on one worker);
      a scalar has no axis to reduce along, so here it is reduced over replicas only.
    """

    def reduce(self, reduce_op, value, axis):
        parent = super()
        if (
            tf.nest.is_nested(value)
            and tf.distribute.ReduceOp(reduce_op) is tf.distribute.ReduceOp.MEAN
        ):
            return tf.nest.map_structure(
                lambda leaf: self.experimental_local_results(leaf)[0], value
            )

        def reduce_leaf(leaf):
            local = tf.convert_to_tensor(self.experimental_local_results(leaf)[0])
            return parent.reduce(reduce_op, leaf, None if local.shape.rank == 0 else axis)

        return tf.nest.map_structure(reduce_leaf, value)


class MirroredStrategy(KerasReduce, tf.distribute.MirroredStrategy):
    """tf.distribute.MirroredStrategy with `KerasReduce`."""


class MultiWorkerMirroredStrategy(KerasReduce, tf.distribute.MultiWorkerMirroredStrategy):
    """tf.distribute.MultiWorkerMirroredStrategy with `KerasReduce`."""


def get_strategy(name="default", tpu=None):
    """A tf.distribute.Strategy.

    Args:
      name: ``default`` (one device), ``mirrored`` (all local GPUs, or the CPU),
        ``multiworker`` (MultiWorkerMirroredStrategy configured from the TF_CONFIG
        environment variable), ``tpu`` (TPUStrategy on the TPU at `tpu`), or ``auto``
        (a TPU when one is reachable, else all local GPUs when there are any, else the
        default strategy: what a notebook on any Colab runtime wants).
      tpu: the TPU address or name for TPUClusterResolver (``local`` on a TPU VM);
        only with ``name='tpu'`` or ``'auto'``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if tpu is not None and name not in ("tpu", "auto"):
        raise ValueError(f"a TPU address was given but strategy is {name!r}; use strategy='tpu'")
    if name == "auto":
        return _auto_strategy(tpu)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return MirroredStrategy()
    if name == "multiworker":
        return MultiWorkerMirroredStrategy()
    return _tpu_strategy(tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or ""))


def _tpu_strategy(resolver):
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def reachable_tpu(tpu=None):
    """A TPUClusterResolver for a TPU this process can use, or None.

    The TPU at `tpu` if given; else one the environment names (``TPU_NAME`` on Cloud,
    ``COLAB_TPU_ADDR`` on a Colab TPU node); else the TPU of a TPU VM (a TPU device
    on this host, as on Colab's current TPU runtimes).
    """
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver
    try:
        return resolver(tpu=tpu or "")
    except (ValueError, RuntimeError):  # no TPU named: not on a TPU node
        pass
    if tpu is None and (tf.config.list_physical_devices("TPU") or glob.glob("/dev/accel*")):
        return resolver(tpu="local")
    return None


def _auto_strategy(tpu):
    resolver = reachable_tpu(tpu)
    if resolver is not None:
        return _tpu_strategy(resolver)
    if tf.config.list_physical_devices("GPU"):
        return MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker cluster.

    The chief is the ``chief`` task of TF_CONFIG, or worker 0 when there is none;
    a single process (any strategy, or no TF_CONFIG) is its own chief.
    """
    return bool(strategy.extended.should_checkpoint)


def worker_directory(directory, strategy, copy=False):
    """Where this process writes what the job would write in `directory`.

    The chief writes in `directory`. Every other worker writes in a temporary
    directory of its own, removed when the process exits (TensorFlow's Keras
    multi-worker guide): all workers run the same program, including its saving
    steps, and only the chief's files are kept. With ``copy=True`` the temporary
    directory starts with a copy of what `directory` holds, so that a worker
    finds the same caches as the chief and takes the same (collective) steps.
    """
    if is_chief(strategy):
        return directory
    temporary = tempfile.mkdtemp(prefix="worker_")
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    if copy and tf.io.gfile.isdir(directory):
        shutil.copytree(directory, temporary, dirs_exist_ok=True)
    return temporary
