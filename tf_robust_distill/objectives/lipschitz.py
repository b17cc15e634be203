"""ℓ1 Lipschitz constants of a network's trainable layers: SoTeacher's Lipschitz regularizer.

SoTeacher (App. C) regularizes ℓ_LR = Σ_f Lip(f), the sum over the trainable
components f of the network of their Lipschitz constants induced by the ℓ1 norm:
the smallest L with ‖f(h) − f(h′)‖₁ ≤ L‖h − h′‖₁ for all inputs h, h′. For the ℓ1
norm the operator norm of a linear map is its largest absolute column sum, which
is exact and cheap (Gouk et al., "Regularisation of neural networks by enforcing
Lipschitz continuity", Machine Learning 2021, §3):

- dense layer y = xW + b, W of shape [in, out]: ‖x ↦ xW‖₁ = max_i Σ_j |W_ij|, the
  largest absolute row sum of the Keras kernel (the column sum of the matrix Wᵀ
  that acts on column vectors);
- convolution, kernel [*spatial, in/groups, out]: max over input channels c of
  Σ |K| over the kernel positions and the output channels c feeds;
- depthwise convolution, kernel [*spatial, in, multiplier]: the same, each input
  channel feeding its own ``multiplier`` output channels;
- batch normalization in inference mode, y = γ(x − μ)/√(σ² + ε) + β:
  max_c |γ_c| / √(σ²_c + ε) with σ² the moving variance.

Each constant is an upper bound of the layer's ℓ1 Lipschitz constant, attained by a
one-hot input for dense and batch-norm layers and for convolutions with stride 1
(an impulse away from the border). Layers without trainable weights (activations,
pooling, flatten, add, ...) contribute nothing: the paper regularizes trainable
components only.

Note: the paper's regularizer is the SUM of the per-layer constants; the Lipschitz
constant of a chain of layers is bounded by their PRODUCT, not by this sum.
"""

import keras
import tensorflow as tf

CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
DEPTHWISE_CONVOLUTIONS = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
SUPPORTED = "Dense, Conv1D/2D/3D, DepthwiseConv1D/2D, BatchNormalization"


def conv_lipschitz(kernel, groups=1):
    """ℓ1 operator norm of a (grouped) convolution: max over input channels of Σ |kernel|.

    Gouk et al. (2021), §3: the ℓ1 norm of a linear map is its largest absolute
    column sum; the column of input channel c holds every kernel entry that reads c,
    i.e. all kernel positions and the output channels of c's group.

    Args:
      kernel: [*spatial, in / groups, out] (Keras layout; no spatial axes for a dense kernel).
      groups: number of channel groups; output channel o belongs to group o // (out / groups).
    """
    kernel = tf.cast(kernel, tf.float32)
    inputs_per_group, outputs = kernel.shape[-2], kernel.shape[-1]
    by_group = tf.reshape(tf.abs(kernel), [-1, inputs_per_group, groups, outputs // groups])
    return tf.reduce_max(tf.reduce_sum(by_group, axis=[0, 3]))


def dense_lipschitz(kernel):
    """ℓ1 operator norm of x ↦ xW for a Keras kernel W [in, out]: max_i Σ_j |W_ij|.

    A dense layer is a convolution without spatial axes (Gouk et al. 2021, §3).
    """
    return conv_lipschitz(kernel)


def depthwise_conv_lipschitz(kernel):
    """ℓ1 operator norm of a depthwise convolution, kernel [*spatial, in, multiplier].

    It is a grouped convolution with one group per input channel, whose output
    channel c·multiplier + m is kernel[..., c, m] (Keras ordering).
    """
    *spatial, inputs, multiplier = kernel.shape
    return conv_lipschitz(tf.reshape(kernel, [*spatial, 1, inputs * multiplier]), groups=inputs)


def batch_norm_lipschitz(gamma, moving_variance, epsilon):
    """ℓ1 Lipschitz constant of inference-mode batch norm: max_c |γ_c| / √(σ²_c + ε).

    The layer is diagonal, so its norm is the largest absolute scale (Gouk et al.
    2021, §3). ``gamma`` None means a layer without scale (γ = 1).
    """
    inverse_std = tf.math.rsqrt(tf.cast(moving_variance, tf.float32) + epsilon)
    if gamma is None:
        return tf.reduce_max(inverse_std)
    return tf.reduce_max(tf.abs(tf.cast(gamma, tf.float32)) * inverse_std)


def _layer_lipschitz(layer):
    """The ℓ1 constant of a supported layer, else None."""
    if isinstance(layer, keras.layers.Dense):
        return dense_lipschitz(layer.kernel)
    if isinstance(layer, CONVOLUTIONS):
        return conv_lipschitz(layer.kernel, layer.groups)
    if isinstance(layer, DEPTHWISE_CONVOLUTIONS):
        return depthwise_conv_lipschitz(layer.kernel)
    if isinstance(layer, keras.layers.BatchNormalization):
        gamma = layer.gamma if layer.scale else None
        return batch_norm_lipschitz(gamma, layer.moving_variance, layer.epsilon)
    return None


def _own_trainable_weights(layer):
    """Trainable weights `layer` holds itself, not through one of its sublayers."""
    held_by_sublayers = {
        id(weight)
        for sublayer in layer._flatten_layers(include_self=False, recursive=False)
        for weight in sublayer.trainable_weights
    }
    return [w for w in layer.trainable_weights if id(w) not in held_by_sublayers]


def lipschitz_constants(model):
    """[(layer, ℓ1 Lipschitz constant)] for every trainable component of `model`.

    Recurses into nested models and layers; a layer shared by several branches or
    models is listed once. Frozen layers (no trainable weights) are not components
    the regularizer can act on and are skipped, as are layers without weights.

    Args:
      model: a built Keras model (or layer).

    Raises:
      ValueError: `model` is not built (its weights do not exist yet).
      TypeError: a layer with trainable weights of its own has no known ℓ1 constant
        (named with its class), e.g. LayerNormalization or Conv2DTranspose.
    """
    if not model.built:
        raise ValueError(
            f"{model.name} is not built: call it on data or give it an Input before "
            "computing its Lipschitz constants."
        )
    constants = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if not layer.trainable_weights:
            continue
        constant = _layer_lipschitz(layer)
        if constant is not None:
            constants.append((layer, constant))
        elif _own_trainable_weights(layer):
            raise TypeError(
                f"no ℓ1 Lipschitz constant is known for layer {layer.name!r} of class "
                f"{type(layer).__name__}; supported trainable layers: {SUPPORTED} "
                "(layers without trainable weights contribute nothing)."
            )
    return constants


def lipschitz_upper_bound(model):
    """SoTeacher's ℓ_LR (App. C): Σ over trainable components of their ℓ1 Lipschitz constants.

    A float32 scalar computed with TensorFlow ops on the weights, so it can be
    differentiated and added to a training loss. Each term bounds its layer's ℓ1
    Lipschitz constant; the paper sums them as a regularizer (the network's own
    constant is bounded by their product). See `lipschitz_constants` for the layers
    covered and the errors raised.
    """
    constants = [constant for _, constant in lipschitz_constants(model)]
    return tf.add_n(constants) if constants else tf.constant(0.0)
