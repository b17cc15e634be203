"""A tiny problem shared by the objective tests: a dense net on 5 features, 3 classes."""

import keras
import numpy as np
import tensorflow as tf

NUM_CLASSES = 3


def tiny_net(seed=1, num_classes=NUM_CLASSES):
    """Seeded Dense(8, relu) -> Dense(num_classes) logits on 5 input features."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))


def examples(n=70, seed=0, *, cycled_labels=False):
    """(x [n, 5], targets) for `tiny_net`, a function of (n, seed) only.

    x is standard normal; targets hold ``label`` (uniform draws, or 0, 1, 2, 0, ... with
    `cycled_labels`: every class in every batch), ``teacher_probs`` (Dirichlet(1) draws)
    and ``index`` (0 .. n-1).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    if cycled_labels:
        labels = np.arange(n, dtype=np.int32) % NUM_CLASSES
    else:
        labels = rng.integers(0, NUM_CLASSES, n).astype(np.int32)
    targets = {
        "label": labels,
        "teacher_probs": rng.dirichlet(np.ones(NUM_CLASSES), size=n).astype(np.float32),
        "index": np.arange(n, dtype=np.int64),
    }
    return x, targets


def batches(n=70, seed=0, batch_size=16, *, cycled_labels=False):
    """`examples(n, seed)` in order, in batches of `batch_size`."""
    dataset = tf.data.Dataset.from_tensor_slices(examples(n, seed, cycled_labels=cycled_labels))
    return dataset.batch(batch_size)
