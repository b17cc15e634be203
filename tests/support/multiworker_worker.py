"""One worker of tests/test_multiworker.py: trains a robust student and a SoTeacher teacher.

Run as ``python tests/support/multiworker_worker.py OUT.npz`` with TF_CONFIG describing a
cluster of two workers and this worker's task; it writes its final weights, state
(λ, prediction buffer) and training logs to OUT.npz. The MultiWorkerMirroredStrategy
is created before any other TensorFlow op (the cluster's collectives are configured
at creation). The test imports `results` to run the same training on one device.

Data sharding: a tf.data dataset of in-memory arrays has no files to split, so
Keras's distributed fit falls back from the AUTO to the DATA sharding policy. The
DATA policy is set here explicitly: every worker runs the whole pipeline, each
global batch is split in order into one per-replica batch per worker, and worker i
keeps the i-th. The two workers' batches, concatenated in task order, are then
exactly the global batch of a single-device run, partial last batches included.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from support.tiny import batches as tiny_batches
from support.tiny import examples, tiny_net
from tf_robust_distill.distribute import get_strategy
from tf_robust_distill.objectives.balanced import class_priors_from_probs
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel
from tf_robust_distill.objectives.soteacher import SoTeacherModel

NUM_TRAIN, NUM_VALIDATION = 70, 31
# Over two replicas: training batches split 8 + 8 (last 3 + 3), validation ones 4 + 3 (last 2 + 1).
TRAIN_BATCH, VALIDATION_BATCH = 16, 7
ROBUST_EPOCHS, SOTEACHER_EPOCHS = 2, 3


def sharded_by_data(dataset):
    """`dataset` with the DATA auto-shard policy (see the module docstring)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def batches(n, batch_size, seed):
    """The tiny examples (labels cycling over the classes) in order, in batches."""
    return sharded_by_data(tiny_batches(n, seed, batch_size, cycled_labels=True))


def shuffled_epochs(n, batch_size, seed, epochs):
    """Batches of `epochs` epochs, each in its own order, a function of (seed, epoch) only.

    tf.data's own reshuffling (``shuffle(reshuffle_each_iteration=True)``) keeps its
    state in the dataset's graph, which distributing the dataset rewrites: the
    workers would then see other orders than one device does. Fit this with
    ``steps_per_epoch``, so that every epoch continues the same iterator.
    """
    x, targets = examples(n, seed, cycled_labels=True)
    orders = np.stack(
        [np.random.default_rng([seed, epoch]).permutation(n) for epoch in range(epochs)]
    )

    def epoch_batches(order):
        picked = tf.nest.map_structure(lambda array: tf.gather(array, order), (x, targets))
        return tf.data.Dataset.from_tensor_slices(picked).batch(batch_size)

    return sharded_by_data(tf.data.Dataset.from_tensor_slices(orders).flat_map(epoch_batches))


def train_robust_student(strategy):
    """RobustModel from fixed teacher probabilities, λ updated every 2 steps on validation.

    The validation set is also evaluated after every epoch (``val_`` logs).

    Returns (weights, λ, history).
    """
    _, targets = examples(NUM_TRAIN, cycled_labels=True)
    with strategy.scope():
        model = RobustModel(
            tiny_net(),
            distill=True,
            class_priors=class_priors_from_probs(targets["teacher_probs"]),
            step_size=2.0,
            validation_labels="teacher",
            risk="xent",
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    validation = batches(NUM_VALIDATION, VALIDATION_BATCH, seed=5)
    history = model.fit(
        batches(NUM_TRAIN, TRAIN_BATCH, seed=0),
        validation_data=validation,
        epochs=ROBUST_EPOCHS,
        verbose=0,
        callbacks=[MultiplierUpdate(validation, every_n_steps=2)],
    ).history
    return model.get_weights(), np.asarray(model.multipliers.current()), history


def train_soteacher(strategy):
    """SoTeacherModel (Lipschitz + consistency terms), every epoch in another order.

    Returns (weights, running-mean buffer, history).
    """
    with strategy.scope():
        model = SoTeacherModel(
            tiny_net(seed=2), 0.01, 2.0, num_train_examples=NUM_TRAIN, rampup_epochs=2
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    history = model.fit(
        shuffled_epochs(NUM_TRAIN, TRAIN_BATCH, seed=3, epochs=SOTEACHER_EPOCHS),
        epochs=SOTEACHER_EPOCHS,
        steps_per_epoch=-(-NUM_TRAIN // TRAIN_BATCH),
        verbose=0,
    ).history
    return model.get_weights(), model.prediction_mean.numpy(), history


def results(strategy):
    """Everything the test compares, as a flat dict of arrays."""
    out = {}
    for name, train in (("robust", train_robust_student), ("soteacher", train_soteacher)):
        weights, state, history = train(strategy)
        out.update({f"{name}/weight_{i}": np.asarray(w) for i, w in enumerate(weights)})
        out[f"{name}/state"] = state
        out.update({f"{name}/history/{key}": np.asarray(v) for key, v in history.items()})
    return out


def main(out_path):
    strategy = get_strategy("multiworker")
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    np.savez(out_path, **results(strategy))


if __name__ == "__main__":
    main(sys.argv[1])
