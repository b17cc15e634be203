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

Two forms of the convolution term (``convolution=``):

- ``"operator"``: the ℓ1 operator norm above, as the paper's text defines ℓ_LR;
- ``"entrywise"``: the entry-wise ℓ1 norm Σ |K| over every kernel entry, which the
  authors' released code (``helper/lip_util.py``) adds for every convolution
  (depthwise ones included) and with which the paper's λ_LR were tuned. It is an upper
  bound of the operator norm (a sum over all columns instead of the largest one).

Dense and batch-norm terms are the same in both. On WRN-40-2 for CIFAR-100 at Keras's
initialization (``keras.utils.set_random_seed(0)``, then
``nets.get("wrn_40_2", 100, (32, 32, 3))``) the sum is 1,277 with ``"operator"`` and
89,298 with ``"entrywise"`` (70×; WRN-16-2: 511 and 29,561, 58×): at the paper's
λ_LR = 1e-5 the operator form is in effect the no-LR ablation on convolutional nets.
"""

import keras
import tensorflow as tf

CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
DEPTHWISE_CONVOLUTIONS = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
SUPPORTED = "Dense, Conv1D/2D/3D, DepthwiseConv1D/2D, BatchNormalization"
CONVOLUTION_TERMS = ("operator", "entrywise")


def absolute_sum(values, axes):
    """Σ |values| over `axes` in float32: the column sums (or the sum) of every kernel term.

    The gradient, sign(values) · u with u the upstream gradient broadcast over `axes`, is
    written as one product. Differentiating the composition instead tiles u to the shape of
    `values` before multiplying, one more pass over the kernel in every step; the values
    are the same, sign(0) = 0 included (the subgradient TensorFlow gives |x| at 0).

    Args:
      values: a kernel (any float dtype).
      axes: the axes summed over (Python ints).
    """
    values = tf.cast(values, tf.float32)
    upstream_shape = [1 if axis in axes else size for axis, size in enumerate(values.shape)]

    @tf.custom_gradient
    def summed(values):
        def gradient(upstream):
            return tf.sign(values) * tf.reshape(upstream, upstream_shape)

        return tf.reduce_sum(tf.abs(values), axis=axes), gradient

    return summed(values)


def conv_lipschitz(kernel, groups=1):
    """ℓ1 operator norm of a (grouped) convolution: max over input channels of Σ |kernel|.

    Gouk et al. (2021), §3: the ℓ1 norm of a linear map is its largest absolute
    column sum; the column of input channel c holds every kernel entry that reads c,
    i.e. all kernel positions and the output channels of c's group.

    Args:
      kernel: [*spatial, in / groups, out] (Keras layout; no spatial axes for a dense kernel).
      groups: number of channel groups; output channel o belongs to group o // (out / groups).
    """
    if groups == 1:  # every output channel reads every input channel: one column per input
        other_axes = [axis for axis in range(len(kernel.shape)) if axis != len(kernel.shape) - 2]
        return tf.reduce_max(absolute_sum(kernel, other_axes))
    inputs_per_group, outputs = kernel.shape[-2], kernel.shape[-1]
    by_group = tf.reshape(kernel, [-1, inputs_per_group, groups, outputs // groups])
    return tf.reduce_max(absolute_sum(by_group, [0, 3]))


def entrywise_l1(kernel):
    """Σ |K| over every entry of a convolution kernel: the released code's convolution term.

    The authors' ``helper/lip_util.py`` adds the entry-wise ℓ1 norm of each convolution's
    weight; it bounds the ℓ1 operator norm (`conv_lipschitz`) from above.
    """
    return absolute_sum(kernel, list(range(len(kernel.shape))))


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


def _layer_lipschitz(layer, convolution):
    """The ℓ1 term of a supported layer (`convolution`: form of the convolution term), else None."""
    if isinstance(layer, keras.layers.Dense):
        return dense_lipschitz(layer.kernel)
    if convolution == "entrywise" and isinstance(layer, CONVOLUTIONS + DEPTHWISE_CONVOLUTIONS):
        return entrywise_l1(layer.kernel)
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


def check_convolution_term(convolution):
    """Raise a ValueError unless `convolution` names a form of the convolution term."""
    if convolution not in CONVOLUTION_TERMS:
        raise ValueError(
            f"convolution must be one of {', '.join(CONVOLUTION_TERMS)}, got {convolution!r}"
        )


def lipschitz_constants(model, convolution="operator"):
    """[(layer, ℓ1 Lipschitz term)] for every trainable component of `model`.

    Recurses into nested models and layers; a layer shared by several branches or
    models is listed once. Frozen layers (no trainable weights) are not components
    the regularizer can act on and are skipped, as are layers without weights.

    Args:
      model: a built Keras model (or layer).
      convolution: "operator" (the paper's text) or "entrywise" (the released code's Σ |K|).

    Raises:
      ValueError: `convolution` is unknown, or `model` is not built (its weights do not exist yet).
      TypeError: a layer with trainable weights of its own has no known ℓ1 constant
        (named with its class), e.g. LayerNormalization or Conv2DTranspose.
    """
    check_convolution_term(convolution)
    if not model.built:
        raise ValueError(
            f"{model.name} is not built: call it on data or give it an Input before "
            "computing its Lipschitz constants."
        )
    constants = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if not layer.trainable_weights:
            continue
        constant = _layer_lipschitz(layer, convolution)
        if constant is not None:
            constants.append((layer, constant))
        elif _own_trainable_weights(layer):
            raise TypeError(
                f"no ℓ1 Lipschitz constant is known for layer {layer.name!r} of class "
                f"{type(layer).__name__}; supported trainable layers: {SUPPORTED} "
                "(layers without trainable weights contribute nothing)."
            )
    return constants


def lipschitz_upper_bound(model, convolution="operator"):
    """SoTeacher's ℓ_LR (App. C): Σ over trainable components of their ℓ1 Lipschitz constants.

    A float32 scalar computed with TensorFlow ops on the weights, so it can be
    differentiated and added to a training loss. Each term bounds its layer's ℓ1
    Lipschitz constant; the paper sums them as a regularizer (the network's own
    constant is bounded by their product). See `lipschitz_constants` for the layers
    covered and the errors raised; `convolution` chooses the form of the convolution
    term ("operator" or "entrywise", see the module's docstring).
    """
    constants = [constant for _, constant in lipschitz_constants(model, convolution)]
    return tf.add_n(constants) if constants else tf.constant(0.0)
