"""Reading the targets dict: every key an objective reads, as the tensor it computes with.

A dataset yields ``(x, targets)``, ``targets`` a dict (see `DistillationModel`):
``label`` (int class, or a one-hot row: `with_class_ids`), ``teacher_probs`` (float [C],
temperature already applied), ``teacher_logits`` (float [C], for `KDModel`, which tempers them),
``weight`` (fidelity weight), ``index`` (position in the training set), ``alpha`` and
``topk`` (SLaM's mixing), ``labeled`` (1 on a labeled example), and the teacher's
feature targets (``data.teacher_features.TARGET_KEYS``). Objectives read them here only.
"""

import tensorflow as tf

LABEL = "label"
TEACHER_PROBS = "teacher_probs"
WEIGHT = "weight"
INDEX = "index"
ALPHA = "alpha"
TOPK = "topk"
LABELED = "labeled"
TEACHER_LOGITS = "teacher_logits"


def with_class_ids(targets):
    """`targets` with a one-hot ``label`` [batch, C] (static C > 1) replaced by its argmax.

    Every reader of ``label`` takes class ids of shape [batch] or [batch, 1] (left as
    they are); Keras users often hold one-hot labels. A soft row is read as its argmax
    too: array inputs are checked to be one-hot first (`array_inputs`).
    """
    label = targets.get(LABEL)
    if label is None or label.shape.rank != 2 or label.shape[-1] in (None, 1):
        return targets
    return {**targets, LABEL: tf.argmax(label, axis=-1, output_type=tf.int32)}


def labels(targets):
    """``label`` as int32 class ids, shape [batch]."""
    return tf.reshape(tf.cast(targets[LABEL], tf.int32), [-1])


def one_hot_labels(targets, num_classes):
    """``label`` as one-hot float32 vectors e_y, shape [batch, C]."""
    return tf.one_hot(labels(targets), num_classes, dtype=tf.float32)


def teacher_probs(targets):
    """``teacher_probs`` as float32, shape [batch, C]."""
    return tf.cast(targets[TEACHER_PROBS], tf.float32)


def probability_key(distill):
    """The key of the probability targets: ``teacher_probs`` when distilling, else ``label``."""
    return TEACHER_PROBS if distill else LABEL


def probability_targets(targets, distill, num_classes):
    """[batch, C] float32 targets: teacher probabilities when distilling, else one-hot labels.

    One class serves teacher and student (robust distillation paper, §3): a teacher
    is trained on one-hot labels, a student on the teacher's probabilities p^t(x).
    """
    if distill:
        return teacher_probs(targets)
    return one_hot_labels(targets, num_classes)


def example_weights(targets):
    """``weight`` as float32, shape [batch]: the caller's per-example (fidelity) weights."""
    return tf.reshape(tf.cast(targets[WEIGHT], tf.float32), [-1])


def example_index(targets):
    """``index`` as int64, shape [batch]: each example's position in the training set."""
    return tf.reshape(tf.cast(targets[INDEX], tf.int64), [-1])


def slam_mixing(targets):
    """(α(x) [batch], top-k mask [batch, C]) of SLaM's mixing, float32.

    The targets' ``alpha`` and ``topk`` on teacher-labeled examples; α = 1 and an
    all-ones mask on labeled ones (``labeled`` = 1), so that mix(f; α = 1) = f there.
    """
    labeled = tf.reshape(tf.cast(targets[LABELED], tf.float32), [-1]) > 0.5
    alpha = tf.where(labeled, 1.0, tf.reshape(tf.cast(targets[ALPHA], tf.float32), [-1]))
    topk = tf.where(labeled[:, None], 1.0, tf.cast(targets[TOPK], tf.float32))
    return alpha, topk


def feature_targets(targets, key, width, layout, objective):
    """``targets[key]`` as float32 [batch, width]; a ValueError naming `layout` otherwise.

    Args:
      key: the teacher's feature-target key (``teacher_features``, ``teacher_attention``).
      width: number of values per example the objective expects.
      layout: what the values are, for the error message.
      objective: name of the objective reading them, for the error message.
    """
    values = targets[key]
    if values.shape.rank != 2 or values.shape[-1] != width:
        raise ValueError(
            f"{objective} needs targets['{key}'] of shape [batch, {width}] ({layout}); "
            f"got {values.shape}."
        )
    return tf.cast(values, tf.float32)
