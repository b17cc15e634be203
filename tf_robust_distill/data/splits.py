"""The train / validation / test sets of a dataset, as ``load`` returns them."""

import dataclasses
import functools
from collections.abc import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class Splits:
    """A dataset split for training, model selection and evaluation.

    Attributes:
      name: the name given to ``load``.
      train, val, test: unbatched ``tf.data.Dataset`` of ``(x, label)``, x float32 normalized of
        shape ``input_shape``, label an int32 scalar; finite, with known cardinality, in a fixed
        order (position i is example i of the ``*_labels`` arrays).
      num_classes, input_shape, class_names: what the examples are.
      read_labels: split name ('train' | 'val' | 'test') -> int32 labels of that split in dataset
        order; read once, through the ``train_labels`` / ``val_labels`` / ``test_labels``
        properties (cheaply, without decoding images, but for ImageNet it streams the records).
      class_probabilities: for ``synthetic``, ``(x, prior=None) -> [N, C]``, the exact
        eta(x) = P(y | x) under the training set's class frequencies (or the given prior);
        None for datasets where it is unknown.
    """

    name: str
    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    read_labels: Callable[[str], np.ndarray] = dataclasses.field(repr=False)
    class_probabilities: Callable[..., np.ndarray] | None = dataclasses.field(
        default=None, repr=False
    )

    @functools.cached_property
    def train_labels(self) -> np.ndarray:
        return self.read_labels("train")

    @functools.cached_property
    def val_labels(self) -> np.ndarray:
        return self.read_labels("val")

    @functools.cached_property
    def test_labels(self) -> np.ndarray:
        return self.read_labels("test")
