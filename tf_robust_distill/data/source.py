"""A dataset as published: its train and test sets in a fixed order, before any split."""

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf


def _as_float32(x, label):
    return tf.cast(x, tf.float32), label


@dataclasses.dataclass(frozen=True, eq=False)
class Source:
    """Access to the published splits of a dataset, in a fixed order.

    Attributes:
      num_classes, input_shape, class_names: what the examples are.
      split_names: the published splits, ``('train', 'test')`` or ``('train', 'val', 'test')``.
      records: split name -> finite dataset of undecoded records (cheap to stream and select
        from), with known cardinality.
      decode: the function mapped (``Dataset.map``) over records to give ``(x, label)``, x float32
        normalized and label int32.
      labels: split name -> int32 numpy array of the labels, in record order.
      class_probabilities: for data with known P(y | x): ``(x, prior) -> [N, C]``; else None.
      in_memory: the records are numpy arrays already in memory, so the selected, decoded
        splits are cached after their first pass (epochs then skip the selection and decoding).
    """

    num_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    split_names: tuple[str, ...]
    records: Callable[[str], tf.data.Dataset]
    decode: Callable
    labels: Callable[[str], np.ndarray]
    class_probabilities: Callable[..., np.ndarray] | None = None
    in_memory: bool = False

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, tuple[np.ndarray, np.ndarray]],
        *,
        num_classes: int,
        class_names: tuple[str, ...],
        decode: Callable = _as_float32,
        class_probabilities: Callable[..., np.ndarray] | None = None,
    ) -> "Source":
        """A source held in memory.

        Args:
          arrays: split name -> (features [N, ...], integer labels [N]); must hold 'train'.
          num_classes, class_names: what the labels mean.
          decode: ``(x, label) -> (x float32 normalized, label)`` for one stored row; the
            default casts x to float32.
          class_probabilities: see the class docstring.
        """
        features = {split: x for split, (x, _) in arrays.items()}
        labels = {split: np.asarray(y, dtype=np.int32) for split, (_, y) in arrays.items()}
        return cls(
            num_classes=num_classes,
            input_shape=tuple(features["train"].shape[1:]),
            class_names=class_names,
            split_names=tuple(arrays),
            records=lambda split: tf.data.Dataset.from_tensor_slices(
                (features[split], labels[split])
            ),
            decode=decode,
            labels=labels.__getitem__,
            class_probabilities=class_probabilities,
            in_memory=True,
        )
