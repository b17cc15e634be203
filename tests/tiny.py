"""A tiny dense net shared by the objective tests (5 inputs, 8 hidden units, 3 classes)."""

import keras

NUM_CLASSES = 3


def tiny_net(seed=1, num_classes=NUM_CLASSES):
    """Seeded Dense(8, relu) -> Dense(num_classes) logits on 5 input features."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))
