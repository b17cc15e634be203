"""Weight decay on every parameter: the released SoTeacher code's setting.

The nets decay kernels only (`nets.layers.l2_regularizer`). PyTorch's ``SGD(weight_decay=wd)``
over ``model.parameters()``, as in SoTeacher's released ``train_teacher.py`` and
``train_student.py``, decays every parameter: biases and batch-norm scales and offsets too.
`decay_every_weight` adds the same L2 penalty, ``(wd / 2)·‖w‖²``, to each trainable weight
of a built net that has none, through the layer's own ``<weight>_regularizer`` attribute so
that it is part of the layer's config and survives saving.
"""

from tf_robust_distill.nets.layers import l2_regularizer

REGULARIZED_WEIGHTS = ("kernel", "depthwise_kernel", "bias", "gamma", "beta")
"""Names of the weights whose ``<name>_regularizer`` attributes Keras layers serialize."""


def decay_every_weight(model, weight_decay):
    """Put L2 weight decay ``wd`` on every trainable weight of `model` that has no regularizer.

    Returns the names of the weights given one. Raises a ValueError naming a trainable
    weight that no ``<name>_regularizer`` attribute can hold (it could not be saved).
    """
    regularizer = l2_regularizer(weight_decay)
    if regularizer is None:
        return []
    added = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        own = {id(v) for sub in layer._flatten_layers(include_self=False) for v in sub.weights}
        for variable in layer.trainable_weights:
            if id(variable) in own or variable.regularizer is not None:
                continue
            name = next(
                (n for n in REGULARIZED_WEIGHTS if getattr(layer, n, None) is variable), None
            )
            if name is None or not hasattr(layer, f"{name}_regularizer"):
                raise ValueError(
                    f"cannot put weight decay on {variable.path}: layer {layer.name!r} of class "
                    f"{type(layer).__name__} has no {name or variable.name}_regularizer."
                )
            setattr(layer, f"{name}_regularizer", regularizer)
            variable.regularizer = regularizer
            added.append(variable.path)
    return added
