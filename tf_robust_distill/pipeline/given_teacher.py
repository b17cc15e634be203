"""A teacher trained elsewhere: ``teacher.path`` names its ``.keras`` file, and the job labels
the data with it instead of training one.

The file's SHA-256 is part of the stored teacher's key (`teacher.teacher_key`): a file
rewritten under the same path replaces the workdir's copy and its label caches, as a
changed teacher config does. The file may hold a plain Keras model returning logits (or
ending in a softmax: `TeacherLabels` then keeps log p), or a model saved by a job (its
``backbone`` labels the data).
"""

import hashlib
import os

from tf_robust_distill.pipeline import checkpointing

READ_CHUNK = 1 << 20


def file_sha256(path):
    """SHA-256 of the bytes of the file at `path`, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backbone_of(model):
    """The network that labels the data: a job's model's ``backbone``, else the model."""
    return getattr(model, "backbone", model)


def check_path(path):
    """Raise a ValueError naming ``teacher.path`` if it is no ``.keras`` file."""
    if not str(path).endswith(".keras") or not os.path.isfile(path):
        raise ValueError(
            f"teacher.path={path!r} is not a .keras file (a model saved with "
            "model.save('teacher.keras'))"
        )


def load_teacher(path, splits, strategy):
    """The model in the ``.keras`` file `path`, loaded in `strategy`'s scope and checked
    against the data.

    Raises:
      ValueError: the file is missing, damaged, or its model does not take the data's
        examples or does not output one score per class.
    """
    check_path(path)
    with strategy.scope():
        model = checkpointing.load_model(path, "save the teacher again")
    network = backbone_of(model)
    expected = (None, *splits.input_shape)
    given = tuple(network.input_shape)
    if len(given) != len(expected) or any(
        size not in (None, want) for size, want in zip(given[1:], expected[1:], strict=True)
    ):
        raise ValueError(
            f"teacher.path={path!r}: the model takes inputs of shape {given}, the data's "
            f"examples have shape {tuple(splits.input_shape)}"
        )
    if tuple(network.output_shape)[1:] != (splits.num_classes,):
        raise ValueError(
            f"teacher.path={path!r}: the model outputs shape {tuple(network.output_shape)}, "
            f"the data has {splits.num_classes} classes (expected (None, {splits.num_classes}))"
        )
    return model
