"""What reads small data into memory (the training pipeline, the selection by position, the
fingerprint) gives exactly what streaming gives."""

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.data import in_memory, select_positions, training_pipeline
from tf_robust_distill.data.fingerprint import dataset_fingerprint


def dataset(size, shape):
    x = np.random.default_rng(0).normal(size=(size, *shape)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, (np.arange(size) % 3).astype(np.int32)))


def batches(pipeline):
    return list(pipeline.as_numpy_iterator())


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for (x, targets), (x_other, targets_other) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, x_other)
        assert targets.keys() == targets_other.keys()
        for key in targets:
            np.testing.assert_array_equal(targets[key], targets_other[key])


def both_ways(monkeypatch, make):
    """`make()` built in memory (the default for small data) and streamed."""
    held = batches(make())
    monkeypatch.setattr(in_memory, "IN_MEMORY_BYTES", 0)
    streamed = batches(make())
    return held, streamed


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 7, "seed": 3, "epochs": 3},
        {"batch_size": 8, "seed": 1, "epochs": 4, "initial_epoch": 2, "drop_remainder": True},
        {"batch_size": 5, "seed": 2, "shuffle_buffer": 9, "epochs": 2},
        {"batch_size": 6, "seed": 4},
    ],
)
def test_in_memory_batches_equal_streamed_batches(monkeypatch, options):
    size = 41
    teacher_probs = np.random.default_rng(1).dirichlet(np.ones(3), size=size)
    per_example = {"teacher_probs": teacher_probs, "weight": np.arange(size) * 0.5}

    def make():
        return training_pipeline(
            dataset(size, (4,)), per_example=per_example, num_classes=3, **options
        )

    held, streamed = both_ways(monkeypatch, make)
    assert_same_batches(held, streamed)
    seen = np.concatenate([targets["index"] for _, targets in held])
    assert not np.array_equal(seen[:size], np.arange(size))  # shuffled


def test_augmented_in_memory_batches_equal_streamed_batches(monkeypatch):
    def make():
        return training_pipeline(
            dataset(19, (8, 8, 1)), 4, seed=5, augmentation="crop_flip", epochs=2
        )

    held, streamed = both_ways(monkeypatch, make)
    assert_same_batches(held, streamed)


def test_out_of_range_labels_are_refused_in_memory():
    x = np.zeros((6, 2), np.float32)
    bad = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 2, 3, 1, 0], np.int32)))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        training_pipeline(bad, 2, seed=0, num_classes=3)


def test_examples_beyond_the_memory_budget_are_streamed(monkeypatch):
    examples = dataset(41, (4,))  # 41 examples of 4 float32 and an int32 label
    monkeypatch.setattr(in_memory, "IN_MEMORY_BYTES", 41 * 5 * 4)
    x, labels = in_memory.in_memory_elements(examples, 41)
    assert x.shape == (41, 4) and labels.shape == (41,)
    monkeypatch.setattr(in_memory, "IN_MEMORY_BYTES", 41 * 5 * 4 - 1)
    assert in_memory.in_memory_elements(examples, 41) is None
    unknown_shape = examples.map(lambda x, label: (tf.boolean_mask(x, x > 0), label))
    assert in_memory.in_memory_elements(unknown_shape, 41) is None


@pytest.mark.parametrize("positions", [[0, 3, 4, 17, 40], list(range(41)), []])
def test_a_selection_in_memory_equals_the_streamed_selection(monkeypatch, positions):
    rng = np.random.default_rng(2)
    elements = {"x": rng.normal(size=(41, 2, 3)).astype(np.float32), "id": np.arange(41) * 7}
    source = tf.data.Dataset.from_tensor_slices(elements)
    in_memory_selection = select_positions(source, np.array(positions, np.int64))
    monkeypatch.setattr(in_memory, "IN_MEMORY_BYTES", 0)
    streamed = select_positions(source, np.array(positions, np.int64))
    assert int(in_memory_selection.cardinality()) == len(positions)
    assert in_memory_selection.element_spec == streamed.element_spec
    pairs = zip(in_memory_selection.as_numpy_iterator(), streamed, strict=True)
    for index, (element, streamed_element) in enumerate(pairs):
        np.testing.assert_array_equal(element["x"], elements["x"][positions[index]])
        assert element["id"] == streamed_element["id"].numpy() == 7 * positions[index]


def test_the_fingerprint_in_memory_equals_the_streamed_fingerprint(monkeypatch):
    in_memory_fingerprint = dataset_fingerprint(dataset(41, (4,)))
    monkeypatch.setattr(in_memory, "IN_MEMORY_BYTES", 0)
    assert dataset_fingerprint(dataset(41, (4,))) == in_memory_fingerprint


def test_a_selection_in_memory_is_not_read_again():
    selection = select_positions(dataset(41, (4,)), np.array([1, 5, 8], np.int64))
    first = in_memory.in_memory_elements(selection, 3)
    assert in_memory.in_memory_elements(selection, 3) is first
    np.testing.assert_array_equal(
        first[0], dataset(41, (4,)).batch(41).get_single_element()[0].numpy()[[1, 5, 8]]
    )
