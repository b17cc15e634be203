"""A multilayer perceptron for flat feature vectors (and flattened images), for CPU runs.

The input, of any shape, is flattened and passed through dense ReLU layers of
``hidden_sizes`` units; the last of them is the ``"features"`` layer, followed by
the linear ``"logits"`` layer. It has no stages.
"""

import keras

from tf_robust_distill import checks
from tf_robust_distill.nets.layer_names import FEATURES_LAYER
from tf_robust_distill.nets.layers import dense, logits
from tf_robust_distill.nets.registry import register


@register("mlp", image_input=False)
def mlp(num_classes, input_shape, *, name, weight_decay, hidden_sizes=(256, 256)):
    """MLP with ReLU hidden layers of ``hidden_sizes`` units (a non-empty sequence)."""
    if (
        isinstance(hidden_sizes, str)
        or not hasattr(hidden_sizes, "__len__")
        or not hidden_sizes
        or any(not checks.is_integer(h) or h < 1 for h in hidden_sizes)
    ):
        raise ValueError(
            f"hidden_sizes must be a non-empty sequence of positive integers, got {hidden_sizes!r}."
        )
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate(hidden_sizes, start=1):
        last = index == len(hidden_sizes)
        x = dense(
            int(units),
            activation="relu",
            weight_decay=weight_decay,
            name=FEATURES_LAYER if last else f"hidden{index}",
        )(x)
    outputs = logits(x, num_classes, weight_decay=weight_decay)
    return keras.Model(inputs, outputs, name=name)
