"""One pass of a model over batches, traced once.

Keras's ``model.predict`` traces its step again for each new input shape (the last,
smaller batch of a split, then another split), and TensorFlow's retracing detector keys
its count by the step's code, which every model's step shares: evaluating five fresh
models one after the other (a teacher and three candidate students, a grid's cells)
reads as excessive retracing and logs a warning. Here a step is traced once for
batches of any size (an input signature whose batch axis is None), and the function
traced is a `functools.partial` of the step, which the detector keys by the object
itself: one trace per new model is counted as one trace of one function.
"""

import functools

import numpy as np
import tensorflow as tf

from tf_robust_distill.probability_outputs import ends_in_softmax

TINY = np.finfo(np.float32).tiny


def traced_once(step, batches):
    """`step` (x -> outputs) as a tf.function traced once for every batch of `batches`, and
    of any other batched dataset of the same elements (e.g. another split)."""
    spec = batches.element_spec
    features = spec[0] if isinstance(spec, tuple) else spec
    return tf.function(functools.partial(step), input_signature=[features])


def predict(function, batches, on_batch=None):
    """``function(x)`` on every batch of the batched dataset `batches`, in order, as one array.

    Args:
      function: x -> a tensor whose first axis is the batch's (`traced_once`).
      batches: a batched ``tf.data.Dataset`` of (x, ...) tuples or of x.
      on_batch: called with each whole batch before `function` (e.g. to fingerprint the
        data or count progress).

    Returns:
      the outputs concatenated along the first axis (float32 [0, 0] if there is no batch).
    """
    outputs = []
    for batch in batches.prefetch(tf.data.AUTOTUNE):
        if on_batch is not None:
            on_batch(batch)
        outputs.append(function(batch[0] if isinstance(batch, tuple) else batch).numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)


def logits_step(model):
    """x -> the model's float32 logits in inference mode (``training=False``).

    For a model that ends in a softmax (`probability_outputs.ends_in_softmax`, e.g. a
    teacher given as a file) the logits are log p, p floored at the smallest float32, so
    that their softmax gives p back.
    """
    probabilities = ends_in_softmax(model)

    def step(x):
        outputs = tf.cast(model(x, training=False), tf.float32)
        return tf.math.log(tf.maximum(outputs, TINY)) if probabilities else outputs

    return step
