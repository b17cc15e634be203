"""Reading the targets dict: the probability vector an objective is trained against."""

import tensorflow as tf


def probability_targets(targets, distill, num_classes):
    """[batch, C] float32 targets: teacher probabilities when distilling, else one-hot labels.

    One class serves teacher and student (robust distillation paper, §3): a teacher
    is trained on one-hot labels, a student on the teacher's probabilities p^t(x).
    """
    if distill:
        return tf.cast(targets["teacher_probs"], tf.float32)
    labels = tf.reshape(tf.cast(targets["label"], tf.int32), [-1])
    return tf.one_hot(labels, num_classes, dtype=tf.float32)
