"""tf.distribute strategies by name.

Build models, optimizers and metrics inside ``get_strategy(name).scope()``; the
objectives reduce their losses over the global batch, so results do not depend on
the number of replicas.
"""

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def get_strategy(name="default", tpu=None):
    """A tf.distribute.Strategy.

    Args:
      name: ``default`` (one device), ``mirrored`` (all local GPUs, or the CPU),
        ``multiworker`` (MultiWorkerMirroredStrategy configured from the TF_CONFIG
        environment variable), or ``tpu`` (TPUStrategy on the TPU at `tpu`).
      tpu: the TPU address or name for TPUClusterResolver (``local`` on a TPU VM);
        only with ``name='tpu'``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if tpu is not None and name != "tpu":
        raise ValueError(f"a TPU address was given but strategy is {name!r}; use strategy='tpu'")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
