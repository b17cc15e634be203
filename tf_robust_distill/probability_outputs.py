"""Recognizing a Keras model whose output is a softmax: probabilities, not logits.

Many Keras models end in ``Dense(C, activation="softmax")`` or a ``Softmax`` layer. The
package reads logits: a softmax applied to probabilities again flattens them (a mean top
probability of 0.93 becomes 0.22), and a loss on "logits" that are probabilities trains
the wrong objective. `TeacherLabels.from_model` takes log p of such a teacher and
`DistillationModel` refuses such a backbone; both recognize it here. The bottom floor:
it imports nothing of the package.
"""

import keras

SOFTMAX = "softmax"


def _output_layer(model):
    """The layer that computes the model's (single) output, or None if it is not known."""
    if isinstance(model, keras.Sequential):
        return model.layers[-1] if model.layers else None
    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1:
        return None
    history = getattr(outputs[0], "_keras_history", None)
    return None if history is None else history.operation


def _is_softmax_layer(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) == SOFTMAX


def ends_in_softmax(model):
    """True if `model`'s output comes from a softmax: a ``Softmax`` layer, a layer whose
    activation is softmax (``Dense(C, activation="softmax")``, ``Activation("softmax")``),
    or a nested model that ends in one.

    A subclassed model whose ``call`` applies the softmax cannot be inspected: False.
    """
    layer = _output_layer(model)
    if layer is None:
        return False
    if isinstance(layer, keras.Model):
        return ends_in_softmax(layer)
    return _is_softmax_layer(layer)


def probability_output_error(model, user):
    """The ValueError for a softmax-output `model` handed to `user` (who trains logits)."""
    return ValueError(
        f"{user} trains a backbone that returns logits, but {model.name!r} ends in a softmax "
        "and returns probabilities; build it with a linear last layer (e.g. Dense(C) without "
        "activation='softmax') and apply the softmax at inference."
    )
