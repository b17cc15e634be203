"""Net factories as a user writes them, named "support.user_nets:NAME" in a config."""

import keras


def build(num_classes, input_shape, *, name, weight_decay, hidden=6):
    """Flatten -> Dense(hidden, relu) -> Dense(num_classes) logits, kernels L2(wd / 2)."""
    regularizer = keras.regularizers.L2(weight_decay / 2)
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=regularizer)(x)
    logits = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def no_keywords(num_classes, input_shape):
    """A factory without the registry's keyword arguments."""
    return build(num_classes, input_shape, name="no_keywords", weight_decay=0.0)


def one_output(num_classes, input_shape, *, name, weight_decay):
    """A factory whose model outputs one score, whatever the number of classes."""
    return build(1, input_shape, name=name, weight_decay=weight_decay)


NOT_CALLABLE = 3
