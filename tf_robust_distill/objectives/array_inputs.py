"""Checks of the arrays handed to ``model.fit``, ``evaluate`` and ``predict``, once on the host.

The train step holds no assertions (it never waits on the host): what it would get wrong
silently is refused here, before Keras sees the data. A label outside [0, C) becomes an
all-zero one-hot row (a zero loss), a float label is truncated, raw logits passed as
``teacher_probs`` train with a negative loss, and NaN features can be scored as finite
predictions. Datasets (``tf.data``) are checked where they are built
(`data.training_pipeline`); other inputs pass unchecked.
"""

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.objectives.targets import LABEL, TEACHER_LOGITS, TEACHER_PROBS


def is_array(value):
    """True for a numpy array or an eager tensor: data held in memory, cheap to check."""
    return isinstance(value, np.ndarray) or (tf.is_tensor(value) and tf.executing_eagerly())


def check_features(x):
    """Refuse NaN or infinite features and warn on 0-255 pixels (`checks.check_features`),
    for an array or a dict of arrays."""
    named = x.items() if isinstance(x, Mapping) else [("x", x)]
    for name, values in named:
        if is_array(values):
            checks.check_features(np.asarray(values), name)


def class_ids(labels, num_classes):
    """``targets['label']`` as class ids [N] in [0, num_classes).

    Accepts integer ids of shape [N] or [N, 1], and one-hot rows [N, C] (C > 1), read as
    their argmax, as the step does (`targets.with_class_ids`): a row that is not one-hot
    (soft labels) is refused, since its argmax would drop the rest of the row.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim == 2:
        if num_classes is not None and labels.shape[1] != num_classes:
            raise ValueError(
                f"targets['label'] of shape {labels.shape} must be class ids [N] or one-hot "
                f"rows [N, {num_classes}]."
            )
        if not (np.isin(labels, (0, 1)).all() and np.all(labels.sum(axis=1) == 1)):
            raise ValueError(
                "targets['label'] of shape [N, C] must hold one-hot rows (a single 1, zeros "
                "elsewhere); soft labels are targets['teacher_probs']."
            )
        labels = labels.argmax(axis=1)
    return checks.as_labels(labels, num_classes, name="targets['label']")


def check_targets(targets, num_classes):
    """Check the ``label``, ``teacher_logits`` and ``teacher_probs`` arrays of a targets dict."""
    if not isinstance(targets, Mapping):
        return
    if is_array(targets.get(LABEL)):
        class_ids(targets[LABEL], num_classes)
    if is_array(targets.get(TEACHER_LOGITS)):
        checks.as_logits(targets[TEACHER_LOGITS], name="targets['teacher_logits']")
    if is_array(targets.get(TEACHER_PROBS)):
        probs = checks.as_probabilities(targets[TEACHER_PROBS], name="targets['teacher_probs']")
        if num_classes is not None:
            checks.check_num_columns(probs, num_classes, "targets['teacher_probs']")


def check_inputs(x, y, num_classes):
    """Check features `x` and targets `y` as ``fit`` or ``evaluate`` receive them.

    Args:
      num_classes: the backbone's number of outputs C, or None if it is not known.
    """
    check_features(x)
    check_targets(y, num_classes)
