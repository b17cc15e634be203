"""Training and evaluation input pipelines with per-example targets gathered by index."""

import numpy as np
import pytest
import tensorflow as tf

from tf_robust_distill.data import evaluation_pipeline, training_pipeline

SIZE = 23


def position_dataset(size=SIZE):
    """x = [i, -i] so each element carries its position; label = i % 4."""
    positions = np.arange(size, dtype=np.float32)
    return tf.data.Dataset.from_tensor_slices(
        (np.stack([positions, -positions], axis=1), (np.arange(size) % 4).astype(np.int32))
    )


def image_dataset(size=6):
    images = np.arange(size * 8 * 8, dtype=np.float32).reshape(size, 8, 8, 1)
    return tf.data.Dataset.from_tensor_slices((images, np.zeros(size, np.int32)))


def per_example_arrays(size=SIZE):
    positions = np.arange(size)
    return {
        "weight": positions * 10.0 + 0.5,  # float64, cast to float32
        "teacher_probs": np.eye(4)[(positions + 1) % 4],
    }


def epoch(dataset):
    return list(dataset.as_numpy_iterator())


def test_training_targets_stay_aligned_after_shuffling():
    pipeline = training_pipeline(position_dataset(), 5, seed=3, per_example=per_example_arrays())
    seen = []
    for x, targets in epoch(pipeline):
        positions = x[:, 0].astype(np.int64)
        np.testing.assert_array_equal(targets["index"], positions)
        np.testing.assert_array_equal(targets["label"], positions % 4)
        np.testing.assert_array_equal(targets["weight"], positions * 10.0 + 0.5)
        np.testing.assert_array_equal(targets["teacher_probs"], np.eye(4)[(positions + 1) % 4])
        assert targets["label"].dtype == np.int32 and targets["index"].dtype == np.int64
        assert targets["weight"].dtype == np.float32
        seen.extend(positions)
    assert sorted(seen) == list(range(SIZE)) and seen != sorted(seen)


def _order(dataset):
    return [int(i) for _, targets in epoch(dataset) for i in targets["index"]]


def test_shuffle_is_deterministic_under_the_seed_and_changes_each_epoch():
    first = _order(training_pipeline(position_dataset(), 4, seed=7, epochs=2))
    assert first == _order(training_pipeline(position_dataset(), 4, seed=7, epochs=2))
    epochs = [first[:SIZE], first[SIZE:]]
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(SIZE))
    assert epochs[0] != epochs[1]
    assert _order(training_pipeline(position_dataset(), 4, seed=8)) != epochs[0]


def test_without_epochs_every_read_is_a_new_epoch_and_the_sequence_repeats_under_the_seed():
    """`fit(pipeline, epochs=E)` reads the pipeline E times: each read must be a new order
    (and new augmentations), the same sequence of reads for the same seed."""

    def reads(seed, count=3):
        pipeline = training_pipeline(image_dataset(7), 3, seed=seed, augmentation="crop_flip")
        batches = [epoch(pipeline) for _ in range(count)]
        orders = [[int(i) for _, t in read for i in t["index"]] for read in batches]
        images = [np.concatenate([x for x, _ in read]) for read in batches]
        return orders, images

    orders, images = reads(seed=5)
    assert all(sorted(order) == list(range(7)) for order in orders)
    assert len({tuple(order) for order in orders}) == 3
    by_index = [x[np.argsort(order)] for x, order in zip(images, orders, strict=True)]
    assert not np.array_equal(by_index[0], by_index[1])
    again_orders, again_images = reads(seed=5)
    assert again_orders == orders
    for x, x_again in zip(images, again_images, strict=True):
        np.testing.assert_array_equal(x, x_again)
    assert reads(seed=6)[0] != orders


def test_an_epoch_is_the_same_whatever_was_iterated_before():
    """Epoch e's batches depend on (seed, e) only: a resumed run sees what a whole run saw."""
    whole = training_pipeline(image_dataset(7), 3, seed=5, epochs=4, augmentation="crop_flip")
    for _ in range(2):  # iterators created before do not move later epochs
        batches = epoch(whole)
    resumed = epoch(
        training_pipeline(
            image_dataset(7), 3, seed=5, epochs=4, initial_epoch=2, augmentation="crop_flip"
        )
    )
    batches_per_epoch = 3
    assert len(batches) == 4 * batches_per_epoch and len(resumed) == 2 * batches_per_epoch
    for (x, targets), (x_resumed, targets_resumed) in zip(
        batches[2 * batches_per_epoch :], resumed, strict=True
    ):
        np.testing.assert_array_equal(x, x_resumed)
        np.testing.assert_array_equal(targets["index"], targets_resumed["index"])
    assert int(whole.cardinality()) == 4 * batches_per_epoch


def test_augmentation_is_deterministic_under_the_seed_and_redrawn_each_epoch():
    def images_by_index(first_epoch):
        """The augmented images of epoch `first_epoch`, in dataset order."""
        batches = epoch(
            training_pipeline(
                image_dataset(),
                3,
                seed=1,
                augmentation="crop_flip",
                epochs=first_epoch + 1,
                initial_epoch=first_epoch,
            )
        )
        x = np.concatenate([x for x, _ in batches])
        return x[np.argsort(np.concatenate([targets["index"] for _, targets in batches]))]

    epoch_zero, epoch_one = images_by_index(0), images_by_index(1)
    np.testing.assert_array_equal(epoch_zero, images_by_index(0))
    assert epoch_zero.shape == (6, 8, 8, 1)
    assert not np.array_equal(epoch_zero, epoch_one)


def test_drop_remainder_gives_static_batch_shapes():
    dropped = training_pipeline(position_dataset(), 5, seed=0, drop_remainder=True, epochs=2)
    assert dropped.element_spec[0].shape.as_list() == [5, 2]
    assert dropped.element_spec[1]["index"].shape.as_list() == [5]
    assert [len(x) for x, _ in epoch(dropped)] == [5, 5, 5, 5] * 2
    kept = training_pipeline(position_dataset(), 5, seed=0, epochs=2)
    assert kept.element_spec[0].shape.as_list() == [None, 2]
    assert [len(x) for x, _ in epoch(kept)] == [5, 5, 5, 5, 3] * 2  # no batch spans two epochs


def test_evaluation_pipeline_keeps_dataset_order():
    pipeline = evaluation_pipeline(position_dataset(), 10, per_example=per_example_arrays())
    batches = epoch(pipeline)
    assert [len(x) for x, _ in batches] == [10, 10, 3]
    indices = np.concatenate([targets["index"] for _, targets in batches])
    np.testing.assert_array_equal(indices, np.arange(SIZE))
    weights = np.concatenate([targets["weight"] for _, targets in batches])
    np.testing.assert_array_equal(weights, np.arange(SIZE) * 10.0 + 0.5)


def test_distributed_evaluation_sees_every_example_once(two_cpu_strategy):
    pipeline = evaluation_pipeline(position_dataset(), 6, drop_remainder=False)
    distributed = two_cpu_strategy.experimental_distribute_dataset(pipeline)
    seen = []
    for _, targets in distributed:
        for replica_indices in two_cpu_strategy.experimental_local_results(targets["index"]):
            seen.extend(replica_indices.numpy().tolist())
    assert sorted(seen) == list(range(SIZE))


def test_per_example_array_of_wrong_length_is_named():
    arrays = per_example_arrays()
    arrays["alpha"] = np.ones(SIZE - 1)
    with pytest.raises(ValueError, match=r"per_example\['alpha'\] has 22 rows .* 23 examples"):
        training_pipeline(position_dataset(), 4, seed=0, per_example=arrays)
    with pytest.raises(ValueError, match=r"per_example\['alpha'\]"):
        evaluation_pipeline(position_dataset(), 4, per_example=arrays)


def test_reserved_target_keys_are_rejected():
    with pytest.raises(ValueError, match="reserved"):
        evaluation_pipeline(position_dataset(), 4, per_example={"label": np.zeros(SIZE)})


def test_unknown_augmentation_is_rejected():
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        training_pipeline(image_dataset(), 2, seed=0, augmentation="mixup")


def test_augmentation_of_flat_features_is_rejected():
    with pytest.raises(ValueError, match=r"needs \[H, W, C\] images"):
        training_pipeline(position_dataset(), 2, seed=0, augmentation="translate")


def test_dataset_of_unknown_size_is_rejected():
    unknown = position_dataset().filter(lambda x, y: True)
    with pytest.raises(ValueError, match="unknown or infinite"):
        evaluation_pipeline(unknown, 4)


def test_batch_size_below_one_is_rejected():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        training_pipeline(position_dataset(), 0, seed=0)


def test_initial_epoch_outside_the_epochs_is_rejected():
    with pytest.raises(ValueError, match="initial_epoch must be at most epochs=2; got 3"):
        training_pipeline(position_dataset(), 4, seed=0, epochs=2, initial_epoch=3)
    with pytest.raises(ValueError, match="initial_epoch must be at least 0"):
        training_pipeline(position_dataset(), 4, seed=0, initial_epoch=-1)
    with pytest.raises(ValueError, match="initial_epoch=1 needs epochs"):
        training_pipeline(position_dataset(), 4, seed=0, initial_epoch=1)
