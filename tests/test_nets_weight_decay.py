"""Weight decay on every parameter: (wd / 2)·Σ‖w‖² over all trainable weights, saved."""

import keras
import numpy as np
import pytest

from tf_robust_distill import nets
from tf_robust_distill.nets.weight_decay import decay_every_weight


def _penalty(model):
    return sum(float(loss) for loss in model.losses)


@pytest.mark.parametrize("name", ["cnn_small", "mlp"])
def test_every_trainable_weight_is_decayed_once(name, tmp_path):
    weight_decay = 1e-2
    keras.utils.set_random_seed(0)
    model = nets.get(
        name, 4, (12, 12, 1) if name == "cnn_small" else (6,), weight_decay=weight_decay
    )
    rng = np.random.default_rng(1)
    for weight in model.trainable_weights:  # biases and offsets start at 0
        weight.assign(rng.normal(size=weight.shape))
    kernels_only = _penalty(model)
    decay_every_weight(model, weight_decay)
    expected = weight_decay / 2 * sum(np.sum(w.numpy() ** 2) for w in model.trainable_weights)
    np.testing.assert_allclose(_penalty(model), expected, rtol=1e-5)
    assert _penalty(model) > kernels_only
    assert decay_every_weight(model, weight_decay) == []
    model.save(tmp_path / "net.keras")
    np.testing.assert_allclose(
        _penalty(keras.models.load_model(tmp_path / "net.keras")), expected, rtol=1e-5
    )


def test_zero_weight_decay_adds_nothing():
    model = nets.get("mlp", 3, (5,))
    assert decay_every_weight(model, 0.0) == [] and not model.losses


def test_a_weight_no_regularizer_attribute_holds_is_refused():
    class Scale(keras.layers.Layer):
        def build(self, shape):
            self.factor = self.add_weight(shape=(), initializer="ones")

        def call(self, x):
            return x * self.factor

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(Scale()(inputs)))
    with pytest.raises(ValueError, match="cannot put weight decay"):
        decay_every_weight(model, 1e-3)
