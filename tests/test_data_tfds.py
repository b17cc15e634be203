"""TFDS datasets through their real loading code, with TFDS's mock data."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_robust_distill.data import load, long_tail_counts

NUM_EXAMPLES = 9
# name -> (input_shape, num_classes, per-channel mean, per-channel std)
EXPECTED = {
    "cifar10": (
        (32, 32, 3), 10, (0.4913997, 0.4821584, 0.4465309), (0.2470322, 0.2434851, 0.2615878)
    ),
    "cifar100": (
        (32, 32, 3), 100, (0.5070752, 0.4865489, 0.4409178), (0.2673343, 0.2564385, 0.2761505)
    ),
    "svhn_cropped": (
        (32, 32, 3), 10, (0.4376821, 0.4437697, 0.4728044), (0.1980301, 0.2010156, 0.1970361)
    ),
    "celeb_a": ((64, 64, 3), 2, (0.5068, 0.4262, 0.3835), (0.3103, 0.2903, 0.2896)),
    "imagenet2012": ((224, 224, 3), 1000, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}  # fmt: skip


def raw_records(name, data_dir, split):
    """Stored images (decoded independently of the package) and labels, in file order."""
    builder = tfds.builder(name, data_dir=data_dir)
    records = builder.as_dataset(
        split=split, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()}
    )
    images, labels = [], []
    for record in records:
        images.append(tf.io.decode_image(record["image"]).numpy())
        label = record["attributes"]["Male"] if name == "celeb_a" else record["label"]
        labels.append(int(label))
    return images, np.array(labels)


def central_square(image):
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tfds_dataset_is_loaded_split_and_normalized(name, tmp_path):
    input_shape, num_classes, mean, std = EXPECTED[name]
    with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
        splits = load(name, data_dir=str(tmp_path), seed=3)
        images, labels = raw_records(name, str(tmp_path), "train")
        train = list(splits.train.as_numpy_iterator())
        train_labels, val_labels, test_labels = (
            splits.train_labels,
            splits.val_labels,
            splits.test_labels,
        )
    assert splits.input_shape == input_shape and splits.num_classes == num_classes
    assert len(splits.class_names) == num_classes
    assert splits.train.element_spec[0].shape == input_shape
    assert len(val_labels) == NUM_EXAMPLES // 2
    assert len(test_labels) == NUM_EXAMPLES - NUM_EXAMPLES // 2
    np.testing.assert_array_equal([y for _, y in train], labels)
    np.testing.assert_array_equal(train_labels, labels)
    for (x, _), image in zip(train, images, strict=True):
        if input_shape[0] != image.shape[0] or input_shape[1] != image.shape[1]:
            square = central_square(image)
            image = tf.image.resize(square, input_shape[:2], antialias=True).numpy()
        expected = (image / 255.0 - np.array(mean)) / np.array(std)
        np.testing.assert_allclose(x, expected, atol=1e-4)


def test_celeb_a_label_is_the_male_attribute(tmp_path):
    with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
        splits = load("celeb_a", data_dir=str(tmp_path))
        _, labels = raw_records("celeb_a", str(tmp_path), "test")
        val_and_test = np.concatenate([splits.val_labels, splits.test_labels])
    assert splits.class_names == ("female", "male")
    np.testing.assert_array_equal(np.sort(val_and_test), np.sort(labels))


def test_imagenet_test_set_is_the_validation_split(tmp_path):
    with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
        splits = load("imagenet2012", data_dir=str(tmp_path))
        _, labels = raw_records("imagenet2012", str(tmp_path), "validation")
        val_and_test = np.concatenate([splits.val_labels, splits.test_labels])
    np.testing.assert_array_equal(np.sort(val_and_test), np.sort(labels))


def test_long_tailed_tfds_dataset_is_selected_by_position(tmp_path):
    with tfds.testing.mock_data(num_examples=300):
        splits = load("cifar10", data_dir=str(tmp_path), imbalance_ratio=2, seed=1)
        _, labels = raw_records("cifar10", str(tmp_path), "train")
        train_labels = np.concatenate([y for _, y in splits.train.batch(300).as_numpy_iterator()])
    expected_counts = long_tail_counts(np.bincount(labels, minlength=10), 2)
    np.testing.assert_array_equal(np.bincount(train_labels, minlength=10), expected_counts)
    np.testing.assert_array_equal(train_labels, splits.train_labels)
    assert int(splits.train.cardinality()) == expected_counts.sum()
