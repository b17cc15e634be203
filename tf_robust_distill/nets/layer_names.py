"""Names of the layers that every net of the package exposes (see the package docstring)."""

FEATURES_LAYER = "features"
"""The penultimate representation: globally pooled for the convolutional nets, the last
hidden layer for ``mlp``; feature distillation reads it."""
