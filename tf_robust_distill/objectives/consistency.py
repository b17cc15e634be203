"""SoTeacher's consistency regularization: weight schedules and temporal-ensembling math.

SoTeacher (§4, App. C) penalizes the distance between the current prediction of a
training example and the average of its earlier predictions (temporal ensembling,
Laine & Aila 2017), with a weight λ_CR(t) that grows over the epochs t = 0, 1, ...
The schedules return the fraction λ_CR(t) / λ_CR^max for a ramp-up of T epochs (the
paper's T is the total number of epochs); after T epochs every schedule stays at 1.
"""

import math

import tensorflow as tf


def linear(epoch, total_epochs):
    """λ_CR(t) / λ_CR^max = t / T (§4, the schedule of the main experiments)."""
    return min(epoch / total_epochs, 1.0)


def cosine(epoch, total_epochs):
    """λ_CR(t) / λ_CR^max = cos[(1 − t/T) π/2] (App. D.1)."""
    return math.cos((1.0 - linear(epoch, total_epochs)) * math.pi / 2.0)


def cyclic(epoch, total_epochs):
    """λ_CR(t) / λ_CR^max = √(1 − (1 − t/T)²) (App. D.1)."""
    return math.sqrt(1.0 - (1.0 - linear(epoch, total_epochs)) ** 2)


def piecewise(epoch, total_epochs):
    """λ_CR(t) / λ_CR^max = 0 for t ≤ T/3, 1/2 for T/3 < t ≤ 2T/3, 1 after (App. D.1).

    The thresholds are compared in integers (3t ≤ T), so t = T/3 exactly falls in
    the first piece as the paper writes.
    """
    if 3 * epoch <= total_epochs:
        return 0.0
    if 3 * epoch <= 2 * total_epochs:
        return 0.5
    return 1.0


SCHEDULES = {"linear": linear, "cosine": cosine, "cyclic": cyclic, "piecewise": piecewise}


def consistency_weight(schedule, epoch, total_epochs, weight_max):
    """λ_CR(t) = λ_CR^max · schedule(t, T) for the schedule named `schedule` (§4, App. D.1)."""
    return weight_max * SCHEDULES[schedule](epoch, total_epochs)


def probabilities(logits):
    """f(x) of App. C, the softmax of the logits [batch, C], computed as exp(log_softmax).

    The same probabilities as ``tf.nn.softmax`` to float32 rounding, at a tenth of its cost
    on CPU: TensorFlow's CPU Softmax kernel takes about 0.1 ms a call even on a [128, 10]
    batch (BENCHMARKS.md, SoTeacher).
    """
    return tf.exp(tf.nn.log_softmax(logits))


def running_mean_update(mean, count, prediction):
    """Online form of App. C's average of earlier predictions f̄(x)_t = (1/t) Σ_{t'<t} f(x)_{t'}.

    With ``count`` = t predictions averaged in ``mean``, adding f(x)_t gives
    f̄_{t+1} = f̄_t + (f(x)_t − f̄_t) / (t + 1), so no past prediction is stored.

    Args:
      mean: [batch, C] float32 running means f̄(x).
      count: [batch] integer numbers of predictions averaged so far.
      prediction: [batch, C] float32 current predictions f(x).

    Returns:
      (new mean [batch, C] float32, new count [batch], same dtype as `count`).
    """
    count = count + 1
    step = tf.cast(count, tf.float32)[:, tf.newaxis]
    return mean + (prediction - mean) / step, count


def consistency_loss(prediction, mean, count):
    """Per-example ℓ_CR of App. C: ‖f(x) − f̄(x)‖²₂, and 0 for an example seen for the first time.

    The paper averages this squared ℓ2 distance over examples (the model's reduction
    does); an example without an earlier prediction (``count`` 0, e.g. every example
    in epoch 0) has no target and no consistency term.

    Args:
      prediction: [batch, C] float32 current softmax predictions f(x).
      mean: [batch, C] float32 running means of the earlier predictions f̄(x).
      count: [batch] integer numbers of earlier predictions.
    """
    squared_distance = tf.reduce_sum(tf.square(prediction - mean), axis=-1)
    return tf.where(count > 0, squared_distance, tf.zeros_like(squared_distance))
