"""Models that end in a softmax: recognized, labeled as the probabilities they return,
refused as a backbone to train."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import tiny_net

import tf_robust_distill as trd
from tf_robust_distill.probability_outputs import ends_in_softmax


def dense_net(head=None, activation=None):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(4, activation=activation)(inputs)
    if head is not None:
        outputs = head(outputs)
    return keras.Model(inputs, outputs)


def sequential_softmax():
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="softmax")])


def nested_softmax():
    inputs = keras.Input((5,))
    return keras.Model(inputs, sequential_softmax()(inputs))


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: dense_net(), False),
        (lambda: dense_net(activation="relu"), False),
        (lambda: dense_net(activation="softmax"), True),
        (lambda: dense_net(keras.layers.Softmax()), True),
        (lambda: dense_net(keras.layers.Activation("softmax")), True),
        (sequential_softmax, True),
        (lambda: keras.Sequential([keras.layers.Dense(4, activation="softmax")]), True),
        (nested_softmax, True),
    ],
    ids=[
        "logits",
        "relu",
        "dense_softmax",
        "softmax_layer",
        "activation_layer",
        "sequential",
        "unbuilt_sequential",
        "nested",
    ],
)
def test_ends_in_softmax(build, expected):
    assert ends_in_softmax(build()) is expected


def test_a_softmax_teacher_is_labeled_with_its_own_probabilities():
    """Its labels' probs() are the model's outputs, not softmax of them (which flattens
    them towards uniform)."""
    teacher = dense_net(activation="softmax")
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32) * 4
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(40, np.int64)))
    labels = trd.data.TeacherLabels.from_model(teacher, dataset, num_examples=40, batch_size=16)
    probs = teacher.predict(x, verbose=0)
    np.testing.assert_allclose(labels.probs(), probs, atol=1e-6)
    sharpened = probs**2 / np.sum(probs**2, axis=1, keepdims=True)
    np.testing.assert_allclose(labels.probs(temperature=0.5), sharpened, atol=1e-5)


def test_a_logit_teacher_is_labeled_as_before():
    teacher = tiny_net(1)
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(12, np.int64)))
    labels = trd.data.TeacherLabels.from_model(teacher, dataset, num_examples=12)
    np.testing.assert_allclose(labels.logits, teacher.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("build", [sequential_softmax, nested_softmax])
def test_every_objective_refuses_a_softmax_backbone(build):
    with pytest.raises(ValueError, match="ends in a softmax"):
        trd.StandardModel(build())
    with pytest.raises(ValueError, match="ends in a softmax"):
        trd.KDModel(build())
