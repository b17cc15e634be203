"""Bodies from ``keras.applications`` (``weights=None``) under the package conventions.

``keras.applications`` builds with its own initializers, batch-norm settings and
no weight decay, and names its layers after the original releases. `adopted`
clones such a body layer by layer with He-normal kernels, the package's batch-norm
momentum and epsilon, the L2 weight decay of `layers.l2_regularizer`, and stage
outputs renamed ``stage1``, ``stage2``, ...
"""

import keras

from tf_robust_distill.nets.layers import (
    BATCH_NORM_EPSILON,
    BATCH_NORM_MOMENTUM,
    KERNEL_INITIALIZER,
    l2_regularizer,
)


def adopted(body, *, stage_outputs, weight_decay):
    """A clone of the functional ``body`` under the package conventions.

    Args:
      body: a functional model from ``keras.applications`` (``include_top=False``).
      stage_outputs: names of the layers whose outputs end the stages, in order;
        they are renamed ``stage1``, ``stage2``, ...
      weight_decay: SGD-style weight decay, see `layers.l2_regularizer`.
    """
    stage_names = {layer: f"stage{i}" for i, layer in enumerate(stage_outputs, start=1)}

    def clone(layer):
        config = layer.get_config()
        config["name"] = stage_names.get(layer.name, layer.name)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            config["depthwise_initializer"] = KERNEL_INITIALIZER
            config["depthwise_regularizer"] = l2_regularizer(weight_decay)
        elif isinstance(layer, keras.layers.Conv2D):
            config["kernel_initializer"] = KERNEL_INITIALIZER
            config["kernel_regularizer"] = l2_regularizer(weight_decay)
        elif isinstance(layer, keras.layers.BatchNormalization):
            config["momentum"] = BATCH_NORM_MOMENTUM
            config["epsilon"] = BATCH_NORM_EPSILON
        return layer.__class__.from_config(config)

    return keras.models.clone_model(body, clone_function=clone)
