"""A trained objective saved to .keras and loaded back loses nothing."""

import keras
import numpy as np


def _variables(model):
    """[(path, numpy value)] of every variable: weights and state (λ, buffers, weights)."""
    return [(variable.path, np.asarray(variable)) for variable in model.weights]


def _optimizer_variables(model):
    return [np.asarray(variable) for variable in model.optimizer.variables]


def _assert_same_arrays(arrays, expected):
    """Equal lists of arrays: same length, same dtypes, same values."""
    assert len(arrays) == len(expected)
    for array, value in zip(arrays, expected, strict=True):
        assert array.dtype == value.dtype
        np.testing.assert_array_equal(array, value)


def _assert_same_variables(model, expected_model):
    variables, expected = _variables(model), _variables(expected_model)
    assert [path for path, _ in variables] == [path for path, _ in expected]
    _assert_same_arrays([value for _, value in variables], [value for _, value in expected])


def assert_round_trip(model, path, x, targets):
    """Save the trained `model` to `path` (.keras), load it, and assert that nothing was lost.

    The loaded model has the model's class and config, every variable (trainable weights
    and non-trainable state: DRO multipliers, SoTeacher buffers, debiasing weights) with
    its dtype and value, the optimizer's variables, the same predictions on `x`, and takes
    the same next training step on the batch (`x`, `targets`): same logs, same variables.

    Returns the loaded model.
    """
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    config, expected_config = restored.get_config(), model.get_config()
    config.pop("backbone")
    expected_config.pop("backbone")
    assert config == expected_config
    _assert_same_variables(restored, model)
    _assert_same_arrays(_optimizer_variables(restored), _optimizer_variables(model))
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    logs = restored.train_on_batch(x, targets, return_dict=True)
    assert logs == model.train_on_batch(x, targets, return_dict=True)
    _assert_same_variables(restored, model)
    return restored
