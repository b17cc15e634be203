"""Tests of tf_robust_distill.nets: published parameter counts, layer names, weight decay,
mixed precision and argument checking."""

import functools

import keras
import numpy as np
import pytest

from tf_robust_distill import nets
from tf_robust_distill.nets.residual import ZeroPadShortcut
from tf_robust_distill.nets.shufflenet_v2 import ChannelShuffle

CIFAR = (32, 32, 3)
IMAGENET = (224, 224, 3)
WEIGHT_DECAY = 5e-4


@functools.cache
def built(name, num_classes, input_shape, **options):
    """Each net is built once (with weight decay) and shared by the read-only tests below."""
    return nets.get(name, num_classes, input_shape, weight_decay=WEIGHT_DECAY, **options)


def trainable_parameters(model):
    return sum(int(np.prod(variable.shape)) for variable in model.trainable_weights)


def test_names_are_the_sorted_registered_nets():
    assert nets.names() == [
        "cnn_small",
        "mlp",
        "mobilenet",
        "resnet11",
        "resnet110",
        "resnet18",
        "resnet20",
        "resnet32",
        "resnet32x4",
        "resnet34",
        "resnet50",
        "resnet56",
        "resnet8",
        "resnet8x4",
        "shufflenet_v2",
        "wrn_16_2",
        "wrn_40_1",
        "wrn_40_2",
    ]


PUBLISHED_COUNTS = [
    # He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016), Table 6 (CIFAR-10).
    ("resnet20", 10, CIFAR, {}, 0.27e6),
    ("resnet32", 10, CIFAR, {}, 0.46e6),
    ("resnet56", 10, CIFAR, {}, 0.85e6),
    ("resnet110", 10, CIFAR, {}, 1.7e6),
    # CIFAR-100 nets of the CRD code base (Tian et al., ICLR 2020), as tabulated by the
    # distillation papers that use it (ResNet32x4/8x4, WRN-40-2/16-2/40-1, ShuffleV2).
    ("resnet8x4", 100, CIFAR, {}, 1.23e6),
    ("resnet32x4", 100, CIFAR, {}, 7.43e6),
    ("wrn_16_2", 100, CIFAR, {}, 0.70e6),
    ("wrn_40_1", 100, CIFAR, {}, 0.57e6),
    ("wrn_40_2", 100, CIFAR, {}, 2.26e6),
    ("shufflenet_v2", 100, CIFAR, {}, 1.36e6),
    # torchvision model documentation, num_params of resnet18 / resnet34 / resnet50 (1000 classes).
    ("resnet18", 1000, IMAGENET, {}, 11_689_512),
    ("resnet34", 1000, IMAGENET, {}, 21_797_672),
    ("resnet50", 1000, IMAGENET, {}, 25_557_032),
    # Howard et al., "MobileNets" (2017), Table 6: 1.0 MobileNet-224 4.2M (alpha defaults to 1),
    # 0.75 MobileNet-224 2.6M.
    ("mobilenet", 1000, IMAGENET, {}, 4.2e6),
    ("mobilenet", 1000, IMAGENET, {"alpha": 0.75}, 2.6e6),
]


@pytest.mark.parametrize("name, num_classes, input_shape, options, published", PUBLISHED_COUNTS)
def test_trainable_parameters_match_published_counts(
    name, num_classes, input_shape, options, published
):
    model = built(name, num_classes, input_shape, **options)
    assert trainable_parameters(model) == pytest.approx(published, rel=0.02)


def test_resnets_of_basic_blocks_match_torchvision_exactly():
    # Same blocks, no biases, BN with two trainable vectors: the counts are equal, not just close.
    assert trainable_parameters(built("resnet18", 1000, IMAGENET)) == 11_689_512
    assert trainable_parameters(built("resnet34", 1000, IMAGENET)) == 21_797_672


def test_resnet11_has_the_parameters_of_the_keras_example_resnet_v2_of_depth_11():
    # Keras CIFAR-10 ResNet example, resnet_v2(depth=11): stem, one bottleneck unit per stage
    # with a 1x1 projection shortcut, BN-ReLU head; 2 classes (CelebA male/female).
    def conv(k, c_in, c_out):  # convolutions of the example keep their bias
        return k * k * c_in * c_out + c_out

    def bn(c):
        return 2 * c

    stem = conv(3, 3, 16) + bn(16)
    stage1 = conv(1, 16, 16) + bn(16) + conv(3, 16, 16) + bn(16) + conv(1, 16, 64) + conv(1, 16, 64)
    stage2 = (
        bn(64)
        + conv(1, 64, 64)
        + bn(64)
        + conv(3, 64, 64)
        + bn(64)
        + conv(1, 64, 128)
        + conv(1, 64, 128)
    )
    stage3 = (
        bn(128)
        + conv(1, 128, 128)
        + bn(128)
        + conv(3, 128, 128)
        + bn(128)
        + conv(1, 128, 256)
        + conv(1, 128, 256)
    )
    head = bn(256) + 256 * 2 + 2
    model = built("resnet11", 2, (64, 64, 3))
    assert trainable_parameters(model) == stem + stage1 + stage2 + stage3 + head
    weight_layers = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
        and not layer.name.endswith("_proj_conv")
    ]
    assert len(weight_layers) == 11


def test_small_nets_have_the_documented_sizes():
    convs = 3 * 3 * 1 * 32 + 3 * 3 * 32 * 32 + 3 * 3 * 32 * 64
    assert trainable_parameters(built("cnn_small", 10, (28, 28, 1))) == convs + 2 * 128 + 650
    two_hidden = (64 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert trainable_parameters(built("mlp", 10, (64,))) == two_hidden
    hidden = nets.get("mlp", 10, (28, 28, 1), hidden_sizes=(32,))
    assert trainable_parameters(hidden) == 784 * 32 + 32 + 32 * 10 + 10


def test_mobilenet_alpha_scales_the_width_of_every_layer():
    assert built("mobilenet", 1000, IMAGENET).get_layer("stage4").output.shape[-1] == 1024
    assert built("mobilenet", 10, CIFAR, alpha=2).get_layer("stage4").output.shape[-1] == 2048


@pytest.mark.parametrize(
    "name, blocks_per_stage, options, base",
    [
        ("resnet8", 1, {}, 16),
        ("resnet8", 1, {"base_width": 8}, 8),
        ("resnet20", 3, {}, 16),
        ("resnet110", 18, {}, 16),
    ],
)
def test_option_a_resnets_have_exactly_the_parameters_of_their_plain_counterparts(
    name, blocks_per_stage, options, base
):
    # He et al. (2016), Sec. 4.2: with option A the residual nets have "exactly the same depth,
    # width, and number of parameters as the plain counterparts".
    plain = 3 * 3 * 3 * base + 2 * base
    for width_in, width in ((base, base), (base, 2 * base), (2 * base, 4 * base)):
        plain += 9 * width_in * width + 9 * width * width + 4 * width
        plain += (blocks_per_stage - 1) * (18 * width * width + 4 * width)
    plain += 4 * base * 10 + 10
    assert trainable_parameters(built(name, 10, CIFAR, **options)) == plain


@pytest.mark.parametrize("base_width", [0, 2.5, "8"])
def test_resnet8_refuses_a_width_that_is_not_a_positive_integer(base_width):
    with pytest.raises(ValueError, match="base_width must be a positive integer"):
        nets.get("resnet8", 10, CIFAR, base_width=base_width)


STAGES = [
    ("resnet20", 10, CIFAR, [(32, 32, 16), (16, 16, 32), (8, 8, 64)]),
    ("resnet32x4", 100, CIFAR, [(32, 32, 64), (16, 16, 128), (8, 8, 256)]),
    ("wrn_40_2", 100, CIFAR, [(32, 32, 32), (16, 16, 64), (8, 8, 128)]),
    ("wrn_40_1", 100, CIFAR, [(32, 32, 16), (16, 16, 32), (8, 8, 64)]),
    ("shufflenet_v2", 100, CIFAR, [(16, 16, 116), (8, 8, 232), (4, 4, 464)]),
    ("resnet11", 2, (64, 64, 3), [(64, 64, 64), (32, 32, 128), (16, 16, 256)]),
    ("resnet18", 1000, IMAGENET, [(56, 56, 64), (28, 28, 128), (14, 14, 256), (7, 7, 512)]),
    ("resnet50", 1000, IMAGENET, [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 2048)]),
    ("mobilenet", 1000, IMAGENET, [(56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 1024)]),
    ("cnn_small", 10, (28, 28, 1), [(28, 28, 32), (14, 14, 32), (7, 7, 64)]),
]


@pytest.mark.parametrize("name, num_classes, input_shape, stage_shapes", STAGES)
def test_stages_and_features_are_named_layers(name, num_classes, input_shape, stage_shapes):
    model = built(name, num_classes, input_shape)
    names = {layer.name for layer in model.layers}
    assert f"stage{len(stage_shapes) + 1}" not in names
    for index, shape in enumerate(stage_shapes, start=1):
        assert model.get_layer(f"stage{index}").output.shape == (None, *shape)
    features = keras.Model(model.input, model.get_layer("features").output)
    width = model.get_layer("logits").kernel.shape[0]
    assert features.output.shape == (None, width)
    assert model.get_layer("logits").input is model.get_layer("features").output


def test_mlp_features_are_its_last_hidden_layer():
    model = built("mlp", 10, (64,))
    assert model.get_layer("features").output.shape == (None, 256)
    assert not any(layer.name.startswith("stage") for layer in model.layers)


WEIGHT_DECAY_NETS = [
    ("resnet20", 10, CIFAR, {}),
    ("resnet8x4", 100, CIFAR, {}),
    ("wrn_16_2", 100, CIFAR, {}),
    ("shufflenet_v2", 100, CIFAR, {}),
    ("resnet11", 2, (64, 64, 3), {}),
    ("resnet18", 1000, IMAGENET, {}),
    ("resnet50", 1000, IMAGENET, {}),
    ("mobilenet", 1000, IMAGENET, {}),
    ("mlp", 10, (64,), {}),
    ("cnn_small", 10, (28, 28, 1), {}),
]


@pytest.mark.parametrize("name, num_classes, input_shape, options", WEIGHT_DECAY_NETS)
def test_weight_decay_is_half_wd_times_squared_kernel_norms(
    name, num_classes, input_shape, options
):
    model = built(name, num_classes, input_shape, **options)
    kernels = [v for v in model.trainable_weights if v.name == "kernel"]
    assert any(len(k.shape) == 4 for k in kernels) or name == "mlp"
    expected = WEIGHT_DECAY / 2 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["resnet20", "mobilenet"])
def test_no_weight_decay_means_no_losses(name):
    assert nets.get(name, 10, CIFAR).losses == []


@pytest.mark.parametrize(
    "name, num_classes, input_shape",
    [
        ("resnet20", 10, CIFAR),
        ("shufflenet_v2", 100, CIFAR),
        ("resnet50", 1000, IMAGENET),
        ("mobilenet", 1000, IMAGENET),
    ],
)
def test_batch_norm_and_initializer_conventions(name, num_classes, input_shape):
    model = built(name, num_classes, input_shape)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms
    assert all(norm.momentum == 0.9 and norm.epsilon == 1e-5 for norm in norms)
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            assert isinstance(layer.depthwise_initializer, keras.initializers.HeNormal)
        elif isinstance(layer, keras.layers.Conv2D):
            assert isinstance(layer.kernel_initializer, keras.initializers.HeNormal)


@pytest.fixture
def mixed_bfloat16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    yield
    keras.config.set_dtype_policy(previous)


TINY = [
    ("resnet20", 10, (16, 16, 3), {}),
    ("resnet8x4", 100, (16, 16, 3), {}),
    ("wrn_16_2", 100, (16, 16, 3), {}),
    ("shufflenet_v2", 100, (16, 16, 3), {}),
    ("resnet11", 2, (16, 16, 3), {}),
    ("resnet18", 10, (32, 32, 3), {}),
    ("resnet50", 10, (32, 32, 3), {}),
    ("mobilenet", 10, (32, 32, 3), {"alpha": 0.25}),
    ("mlp", 3, (7,), {"hidden_sizes": (8, 4)}),
    ("cnn_small", 10, (28, 28, 1), {}),
]


@pytest.mark.parametrize("name, num_classes, input_shape, options", TINY)
def test_logits_are_float32_under_mixed_bfloat16(
    mixed_bfloat16, name, num_classes, input_shape, options
):
    model = nets.get(name, num_classes, input_shape, **options)
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype("float32")
    logits = model(x, training=False)
    features = keras.Model(model.input, model.get_layer("features").output)(x, training=False)
    assert features.dtype == "bfloat16"
    assert logits.dtype == "float32"
    assert logits.shape == (2, num_classes)
    assert np.all(np.isfinite(logits.numpy()))


def test_zero_pad_shortcut_is_subsampled_identity_with_zero_channels():
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 3)).astype("float32")
    y = ZeroPadShortcut(filters=8, strides=2)(x).numpy()
    assert y.shape == (2, 3, 3, 8)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    np.testing.assert_array_equal(y[..., 3:], 0.0)


def test_channel_shuffle_matches_the_reference_view_permute():
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 6)).astype("float32")
    nchw = x.transpose(0, 3, 1, 2)
    n, c, h, w = nchw.shape
    reference = nchw.reshape(n, 2, c // 2, h, w).transpose(0, 2, 1, 3, 4).reshape(n, c, h, w)
    shuffled = ChannelShuffle(groups=2)(x).numpy()
    np.testing.assert_array_equal(shuffled, reference.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("name", ["resnet20", "shufflenet_v2"])
def test_saved_net_reloads_with_the_same_outputs(tmp_path, name):
    model = nets.get(name, 10, (16, 16, 3), weight_decay=1e-4)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    x = np.random.default_rng(3).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(reloaded(x), model(x), rtol=1e-6, atol=1e-6)
    assert float(sum(reloaded.losses)) == pytest.approx(float(sum(model.losses)), rel=1e-6)


def test_unknown_name_lists_the_registered_nets():
    with pytest.raises(ValueError, match="Unknown net 'resnet19'.*resnet18, resnet20"):
        nets.get("resnet19", 10, CIFAR)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True, "10", None])
def test_bad_num_classes_is_rejected(num_classes):
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        nets.get("resnet20", num_classes, CIFAR)


@pytest.mark.parametrize("input_shape", [(3072,), (32, 32), (1, 32, 32, 3)])
def test_conv_nets_reject_non_image_shapes(input_shape):
    with pytest.raises(ValueError, match=r"takes images: input_shape must be \(height"):
        nets.get("resnet20", 10, input_shape)


@pytest.mark.parametrize("input_shape", [(), (32, 0, 3), (32, -1, 3), (32.0, 32, 3), 32, None])
def test_malformed_input_shapes_are_rejected(input_shape):
    with pytest.raises(ValueError, match="input_shape must be a non-empty tuple"):
        nets.get("mlp", 10, input_shape)


@pytest.mark.parametrize("weight_decay", [-1e-4, float("nan"), float("inf"), "1e-4"])
def test_bad_weight_decay_is_rejected(weight_decay):
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        nets.get("cnn_small", 10, (28, 28, 1), weight_decay=weight_decay)


def test_unknown_option_names_the_allowed_options():
    with pytest.raises(ValueError, match="has no option.*'depth'.*its options are: alpha"):
        nets.get("mobilenet", 10, CIFAR, depth=3)
    with pytest.raises(ValueError, match="its options are: none"):
        nets.get("resnet20", 10, CIFAR, alpha=2)


@pytest.mark.parametrize("alpha", [0, -1.0, "2", True])
def test_bad_mobilenet_alpha_is_rejected(alpha):
    with pytest.raises(ValueError, match="alpha .* must be > 0"):
        nets.get("mobilenet", 10, CIFAR, alpha=alpha)


@pytest.mark.parametrize("hidden_sizes", [(), (0,), (16, -2), "16", 16, (1.5,)])
def test_bad_mlp_hidden_sizes_are_rejected(hidden_sizes):
    with pytest.raises(ValueError, match="hidden_sizes must be a non-empty sequence"):
        nets.get("mlp", 10, (8,), hidden_sizes=hidden_sizes)
