"""ℓ1 Lipschitz constants (SoTeacher App. C): numpy transcriptions, ratio bounds, tightness."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.objectives.lipschitz import lipschitz_constants, lipschitz_upper_bound

EPSILON = 1e-3


def numpy_dense(kernel):
    """max over input i of Σ_j |W_ij| for y = xW."""
    return max(np.abs(kernel[i]).sum() for i in range(kernel.shape[0]))


def numpy_conv(kernel, groups):
    """max over input channels c of Σ |K| over positions and the output channels of c's group."""
    inputs_per_group, outputs = kernel.shape[-2:]
    outputs_per_group = outputs // groups
    column_sums = []
    for group in range(groups):
        for channel in range(inputs_per_group):
            outputs_of_group = slice(group * outputs_per_group, (group + 1) * outputs_per_group)
            column_sums.append(np.abs(kernel[..., channel, outputs_of_group]).sum())
    return max(column_sums)


def numpy_depthwise(kernel):
    return max(np.abs(kernel[..., c, :]).sum() for c in range(kernel.shape[-2]))


def numpy_batch_norm(gamma, moving_variance):
    return np.max(np.abs(gamma) / np.sqrt(moving_variance + EPSILON))


def numpy_constant(layer):
    if isinstance(layer, keras.layers.Dense):
        return numpy_dense(layer.kernel.numpy())
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return numpy_depthwise(layer.kernel.numpy())
    if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D):
        return numpy_conv(layer.kernel.numpy(), layer.groups)
    return numpy_batch_norm(layer.gamma.numpy(), layer.moving_variance.numpy())


def randomize(model, seed=0):
    """Random weights, with negative batch-norm scales and varied moving statistics."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape
            layer.gamma.assign(rng.normal(size=size))
            layer.beta.assign(rng.normal(size=size))
            layer.moving_mean.assign(rng.normal(size=size))
            layer.moving_variance.assign(rng.uniform(0.1, 2.0, size=size))
        else:
            for weight in layer.weights:
                weight.assign(rng.normal(size=weight.shape))
    return model


LAYERS = {
    "dense": ((5,), lambda: keras.layers.Dense(7)),
    "conv2d": ((6, 6, 3), lambda: keras.layers.Conv2D(4, 3, padding="same")),
    "conv2d_groups": ((6, 6, 4), lambda: keras.layers.Conv2D(6, 3, padding="same", groups=2)),
    "conv1d": ((8, 2), lambda: keras.layers.Conv1D(3, 3, padding="same")),
    "depthwise": ((6, 6, 3), lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2)),
    "batch_norm": ((5,), lambda: keras.layers.BatchNormalization(epsilon=EPSILON)),
}


def single_layer(name, seed=0):
    shape, make = LAYERS[name]
    layer = make()
    return randomize(keras.Sequential([keras.Input(shape), layer]), seed), layer, shape


def l1_ratios(f, shape, rng, pairs=64):
    """‖f(h) − f(h′)‖₁ / ‖h − h′‖₁ for random pairs (inference mode)."""
    h = rng.normal(size=(pairs, *shape)).astype(np.float32)
    h_prime = h + rng.normal(scale=rng.uniform(0.01, 3.0, size=(pairs,) + (1,) * len(shape)))
    out = f(h).numpy().reshape(pairs, -1)
    out_prime = f(h_prime.astype(np.float32)).numpy().reshape(pairs, -1)
    return np.abs(out - out_prime).sum(1) / np.abs(h - h_prime).reshape(pairs, -1).sum(1)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_constant_matches_numpy(name):
    model, layer, _ = single_layer(name)
    np.testing.assert_allclose(float(lipschitz_upper_bound(model)), numpy_constant(layer), 1e-6)


def numpy_entrywise_constant(layer):
    """The released code's term: Σ |K| over a convolution's kernel entries; else as above."""
    if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
        return sum(abs(float(entry)) for entry in layer.kernel.numpy().ravel())
    return numpy_constant(layer)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_entrywise_term_matches_numpy_and_bounds_the_operator_norm(name):
    model, layer, _ = single_layer(name)
    entrywise = float(lipschitz_upper_bound(model, convolution="entrywise"))
    np.testing.assert_allclose(entrywise, numpy_entrywise_constant(layer), rtol=1e-6)
    operator = float(lipschitz_upper_bound(model, convolution="operator"))
    assert entrywise >= operator * (1 - 1e-6)
    if "conv" in name or name == "depthwise":
        assert entrywise > 1.5 * operator


def test_unknown_convolution_term_is_refused():
    model, _, _ = single_layer("conv2d")
    with pytest.raises(ValueError, match="entrywise"):
        lipschitz_upper_bound(model, convolution="frobenius")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_constant_bounds_ratio_and_is_attained_by_an_impulse(name):
    model, _, shape = single_layer(name)
    bound = float(lipschitz_upper_bound(model))
    ratios = l1_ratios(model, shape, np.random.default_rng(1))
    assert np.all(ratios <= bound * (1 + 1e-5))
    # A unit impulse at the centre (away from the border) of the right channel attains it.
    centre = tuple(size // 2 for size in shape[:-1])
    zero = np.zeros((1, *shape), np.float32)
    impulse_ratios = []
    for channel in range(shape[-1]):
        impulse = zero.copy()
        impulse[(0, *centre, channel)] = 1.0
        impulse_ratios.append(np.abs(model(impulse).numpy() - model(zero).numpy()).sum())
    np.testing.assert_allclose(max(impulse_ratios), bound, rtol=1e-5)


def test_composition_is_bounded_by_the_product_and_regularized_by_the_sum():
    dense = randomize(
        keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(8),
                keras.layers.BatchNormalization(epsilon=EPSILON),
                keras.layers.ReLU(),
                keras.layers.Dense(5, activation="tanh"),
                keras.layers.Dense(3),
            ]
        )
    )
    conv = randomize(
        keras.Sequential(
            [
                keras.Input((6, 6, 2)),
                keras.layers.Conv2D(4, 3, padding="same"),
                keras.layers.BatchNormalization(epsilon=EPSILON),
                keras.layers.ReLU(),
                keras.layers.DepthwiseConv2D(3, strides=2, padding="same"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(3),
            ]
        ),
        seed=1,
    )
    rng = np.random.default_rng(2)
    for model, shape in ((dense, (6,)), (conv, (6, 6, 2))):
        constants = lipschitz_constants(model)
        layers = [layer for layer in model.layers if layer.weights]
        assert [layer for layer, _ in constants] == layers
        expected = [numpy_constant(layer) for layer in layers]
        np.testing.assert_allclose([float(c) for _, c in constants], expected, rtol=1e-6)
        np.testing.assert_allclose(float(lipschitz_upper_bound(model)), sum(expected), rtol=1e-6)
        assert np.all(l1_ratios(model, shape, rng) <= np.prod(expected) * (1 + 1e-5))


class TwoDense(keras.layers.Layer):
    """A custom block whose weights live in sublayers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(4)
        self.second = keras.layers.Dense(3)

    def call(self, x):
        return self.second(self.first(x))


class OwnKernel(keras.layers.Layer):
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2))

    def call(self, x):
        return x @ self.kernel


def test_nested_models_shared_and_frozen_layers():
    shared = keras.layers.Dense(3, name="shared")
    frozen = keras.layers.Dense(3, name="frozen")
    frozen.trainable = False
    block = TwoDense()
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, name="inner_dense")])
    inputs = keras.Input((3,))
    hidden = shared(frozen(inputs))
    outputs = block(inner(shared(hidden)))
    model = randomize(keras.Model(inputs, outputs))
    counted = {layer.name for layer, _ in lipschitz_constants(model)}
    assert counted == {"shared", "inner_dense", block.first.name, block.second.name}
    expected = sum(
        numpy_dense(layer.kernel.numpy())
        for layer in (shared, inner.layers[0], block.first, block.second)
    )
    np.testing.assert_allclose(float(lipschitz_upper_bound(model)), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "layer, cls",
    [
        (keras.layers.LayerNormalization(name="norm"), "LayerNormalization"),
        (keras.layers.Conv2DTranspose(2, 3, name="up"), "Conv2DTranspose"),
        (OwnKernel(name="custom"), "OwnKernel"),
    ],
)
def test_unsupported_trainable_layer_is_named(layer, cls):
    shape = (4, 4, 2) if cls == "Conv2DTranspose" else (4,)
    model = keras.Sequential([keras.Input(shape), layer])
    with pytest.raises(TypeError, match=f"'{layer.name}' of class {cls}"):
        lipschitz_upper_bound(model)


def test_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="not built"):
        lipschitz_upper_bound(keras.Sequential([keras.layers.Dense(3)]))


def test_gradient_is_the_subgradient_of_the_largest_column():
    model = randomize(
        keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(5),
                keras.layers.BatchNormalization(epsilon=EPSILON),
            ]
        )
    )
    dense, norm = model.layers
    with tf.GradientTape() as tape:
        bound = lipschitz_upper_bound(model)
    kernel_grad, gamma_grad = tape.gradient(bound, [dense.kernel, norm.gamma])
    kernel = dense.kernel.numpy()
    expected_kernel = np.zeros_like(kernel)
    row = np.abs(kernel).sum(axis=1).argmax()
    expected_kernel[row] = np.sign(kernel[row])
    np.testing.assert_allclose(kernel_grad.numpy(), expected_kernel)
    gamma, variance = norm.gamma.numpy(), norm.moving_variance.numpy()
    expected_gamma = np.zeros_like(gamma)
    channel = (np.abs(gamma) / np.sqrt(variance + EPSILON)).argmax()
    expected_gamma[channel] = np.sign(gamma[channel]) / np.sqrt(variance[channel] + EPSILON)
    np.testing.assert_allclose(gamma_grad.numpy(), expected_gamma, rtol=1e-5)


def formula_term(layer, convolution):
    """A layer's term written with TensorFlow ops as the module docstring states it."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return tf.reduce_max(tf.abs(layer.gamma) * tf.math.rsqrt(layer.moving_variance + EPSILON))
    kernel = tf.convert_to_tensor(layer.kernel)
    if isinstance(layer, keras.layers.Dense):
        return tf.reduce_max(tf.reduce_sum(tf.abs(kernel), axis=1))
    if convolution == "entrywise":
        return tf.reduce_sum(tf.abs(kernel))
    groups = getattr(layer, "groups", 1)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        groups = kernel.shape[-2]
        kernel = tf.reshape(kernel, [*kernel.shape[:-2], 1, -1])
    columns = tf.reshape(kernel, [-1, kernel.shape[-2], groups, kernel.shape[-1] // groups])
    return tf.reduce_max(tf.reduce_sum(tf.abs(columns), axis=[0, 3]))


def with_ties_and_zeros(layer):
    """Input channel 1 the negation of channel 0 (a tie for the largest column, scaled up to
    be it) and zeros in both: the subgradient's two corner cases."""
    if isinstance(layer, keras.layers.BatchNormalization):
        gamma = layer.gamma.numpy()
        gamma[:2] = [5.0, -5.0]
        layer.gamma.assign(gamma)
        layer.moving_variance.assign(np.ones_like(gamma))
        return
    kernel = np.moveaxis(layer.kernel.numpy(), -2, 0)
    kernel[0] = 10.0 * kernel[0]
    kernel[0].flat[0] = 0.0
    kernel[1] = -kernel[0]
    layer.kernel.assign(np.moveaxis(kernel, 0, -2))


@pytest.mark.parametrize("convolution", ["operator", "entrywise"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradient_equals_autodiff_of_the_formula_at_ties_and_zeros(name, convolution):
    """The bound's hand-written gradient of Σ|K| is the one autodiff gives the formula:
    split evenly over tied columns, 0 on zero weights."""
    model, layer, _ = single_layer(name)
    with_ties_and_zeros(layer)
    with tf.GradientTape(persistent=True) as tape:
        bound = lipschitz_upper_bound(model, convolution)
        formula = formula_term(layer, convolution)
    np.testing.assert_allclose(float(bound), float(formula), rtol=1e-6)
    weights = layer.trainable_weights
    for ours, reference in zip(
        tape.gradient(bound, weights), tape.gradient(formula, weights), strict=True
    ):
        if reference is None:
            assert ours is None
        else:
            np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    if name != "batch_norm" and convolution == "operator":
        gradient = np.moveaxis(tape.gradient(bound, layer.kernel).numpy(), -2, 0)
        assert gradient[0].flat[0] == 0.0 and np.abs(gradient[0]).max() > 0
