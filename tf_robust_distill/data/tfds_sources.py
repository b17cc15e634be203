"""Datasets read through TensorFlow Datasets' own loading code."""

import dataclasses
import functools

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tf_robust_distill.data.normalization import CHANNEL_STATS, standardize
from tf_robust_distill.data.source import Source

_LABEL_BATCH = 8192


@dataclasses.dataclass(frozen=True)
class TfdsSpec:
    """How one TFDS dataset becomes a ``Source``.

    Attributes:
      train_split, test_split: the TFDS splits used as the published train and test sets.
      label_path: keys leading to the label feature, e.g. ``('attributes', 'Male')``.
      image_size: side of the square images fed to the model (central square crop, then
        resize); None keeps the stored size.
      class_names: names of the classes; None reads them from the TFDS ``ClassLabel`` feature
        ``label_path[0]``.
    """

    train_split: str = "train"
    test_split: str = "test"
    label_path: tuple[str, ...] = ("label",)
    image_size: int | None = None
    class_names: tuple[str, ...] | None = None


TFDS_SPECS = {
    "fashion_mnist": TfdsSpec(),
    "cifar10": TfdsSpec(),
    "cifar100": TfdsSpec(),
    # The papers use the 73,257 "train" digits, not the "extra" split.
    "svhn_cropped": TfdsSpec(),
    # Binary 'Male' attribute, as in the unlabeled-distillation papers (162,770 train / 19,962
    # test). The papers do not state an image size; 64x64 central crops keep the face.
    "celeb_a": TfdsSpec(
        label_path=("attributes", "Male"), image_size=64, class_names=("female", "male")
    ),
    # Manual download; 224x224 as in the robust distillation paper (App. E.1.2). The labeled
    # "validation" split plays the role of the test set.
    "imagenet2012": TfdsSpec(test_split="validation", image_size=224),
}


def center_square_resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """Crops the central square of an [H, W, C] image and resizes it to [size, size, C]."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.minimum(height, width)
    square = tf.image.crop_to_bounding_box(
        image, (height - side) // 2, (width - side) // 2, side, side
    )
    return tf.image.resize(square, (size, size), antialias=True)


def _label_of(record, label_path: tuple[str, ...]) -> tf.Tensor:
    label = functools.reduce(lambda feature, key: feature[key], label_path, record)
    return tf.cast(label, tf.int32)


def tfds_source(name: str, data_dir: str | None = None) -> Source:
    """A ``Source`` over the TFDS dataset ``name`` (a key of ``TFDS_SPECS``).

    Records are read in file order (``shuffle_files=False``) with the image left encoded
    (``SkipDecoding``), so labels can be read and examples selected without decoding images.
    Decoding scales pixels to [0, 1] and standardizes them with ``CHANNEL_STATS[name]``.
    The dataset is downloaded and prepared into ``data_dir`` if it is not there yet.
    """
    spec = TFDS_SPECS[name]
    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    features = builder.info.features
    image_feature = features["image"]
    if spec.class_names is not None:
        class_names = spec.class_names
    else:
        class_names = tuple(features[spec.label_path[0]].names)
    splits = {"train": spec.train_split, "test": spec.test_split}
    mean, std = CHANNEL_STATS[name]

    def records(split: str) -> tf.data.Dataset:
        return builder.as_dataset(
            split=splits[split],
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )

    def decode(record):
        image = image_feature.decode_example(record["image"])
        if spec.image_size is not None:
            image = center_square_resize(image, spec.image_size)
        return standardize(image, mean, std), _label_of(record, spec.label_path)

    @functools.cache
    def labels(split: str) -> np.ndarray:
        label_batches = (
            records(split)
            .map(lambda record: _label_of(record, spec.label_path), tf.data.AUTOTUNE)
            .batch(_LABEL_BATCH)
        )
        return np.concatenate([np.zeros(0, np.int32), *label_batches.as_numpy_iterator()])

    if spec.image_size is None:
        input_shape = tuple(image_feature.shape)
    else:
        input_shape = (spec.image_size, spec.image_size, image_feature.shape[-1])
    return Source(
        num_classes=len(class_names),
        input_shape=input_shape,
        class_names=class_names,
        split_names=("train", "test"),
        records=records,
        decode=decode,
        labels=labels,
    )
