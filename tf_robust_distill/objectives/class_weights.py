"""``model.fit(class_weight=...)`` for targets dicts: Keras's semantics, read from ``label``.

Keras turns ``class_weight`` into per-example sample weights w_i = class_weight[y_i]
(1.0 for a class it does not list) but refuses it when the targets are a dict, as ours
are. `DistillationModel.fit` therefore does the same conversion itself, reading y_i
from ``targets['label']`` (class ids or one-hot rows), and hands Keras the sample
weights: the step multiplies example i's loss by w_i, as Keras does for a compiled loss.
"""

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.objectives import array_inputs
from tf_robust_distill.objectives.targets import LABEL, labels, with_class_ids

NEEDS_LABEL = "class_weight weights each example by its class: the targets need 'label'."


def class_weight_table(class_weight, num_classes):
    """[C'] float32 weights, entry c = ``class_weight.get(c, 1.0)``, C' covering every class.

    Args:
      class_weight: {class id: weight}, ids integers >= 0 (and < `num_classes` if it is
        known), weights finite and >= 0.
      num_classes: the backbone's number of outputs C, or None if it is not known.
    """
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(
            f"class_weight must be a non-empty dict {{class id: weight}}, got {class_weight!r}."
        )
    ids = list(class_weight)
    if not all(
        checks.is_integer(c) and c >= 0 and (num_classes is None or c < num_classes) for c in ids
    ):
        bound = "" if num_classes is None else f" < {num_classes}"
        raise ValueError(f"class_weight's keys must be class ids, integers >= 0{bound}; got {ids}.")
    values = np.asarray([class_weight[c] for c in ids], dtype=np.float64)
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise ValueError(f"class_weight's weights must be finite and >= 0, got {values.tolist()}.")
    size = max(num_classes or 0, max(ids) + 1)
    table = np.ones(size, np.float32)
    table[np.asarray(ids, dtype=np.int64)] = values
    return table


def with_class_weights(x, y, class_weight, num_classes, fit_kwargs):
    """(x, fit_kwargs) with `class_weight` turned into sample weights read from ``label``.

    Arrays: ``fit_kwargs['sample_weight']`` = table[y['label']]. A ``tf.data.Dataset`` of
    (x, targets): each batch gets a third element, table[label]. Keras's own rule holds:
    class_weight and sample weights together are refused.
    """
    table = class_weight_table(class_weight, num_classes)
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict)):
            raise ValueError(
                "class_weight needs a dataset of (x, targets), targets a dict holding 'label' "
                "(a third element, sample weights, cannot be combined with class_weight)."
            )
        if LABEL not in spec[1]:
            raise ValueError(NEEDS_LABEL)
        weights = tf.constant(table)

        def weighted(features, targets):
            return features, targets, tf.gather(weights, labels(with_class_ids(targets)))

        return x.map(weighted), fit_kwargs
    if fit_kwargs.get("sample_weight") is not None:
        raise ValueError("You cannot pass class_weight and sample_weight at the same time.")
    if not isinstance(y, dict) or LABEL not in y:
        raise ValueError(NEEDS_LABEL)
    ids = array_inputs.class_ids(y[LABEL], len(table))
    return x, {**fit_kwargs, "sample_weight": table[ids]}
