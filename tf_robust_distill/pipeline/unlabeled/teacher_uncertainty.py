"""The teacher's uncertainty u(x) in the fidelity weights exp(−β u(x) / mean u), two kinds.

``unlabeled.fidelity_uncertainty`` names the kind, and the results name it beside every
student with fidelity weights:

- ``entropy``: the entropy of the teacher's soft label softmax(f(x)/t_B). Weighted paper
  App. C.3: "we use the entropy of the teacher's prediction as an uncertainty/confidence
  measure".
- ``augmentation_variance``: SLaM App. D.4: "we performed 10 random data augmentations
  (random crop and resize), estimated the coordinate-wise variance of the resulting
  teacher soft-labels, and finally computed the average of the variances of the
  k-classes". The teacher runs on ``unlabeled.fidelity_views`` augmented copies of every
  training example (``unlabeled.fidelity_augmentation``, a name of
  `data.augment.AUGMENTATIONS`; the package has no crop-and-resize, its crops are
  pad-and-crop), and `estimators.augmentation_variance` reduces the views' softmax(f/t_B)
  to one number per example. View v of example i is drawn with the stateless seed (v, i).
  One bulk inference over the training set, cached beside the teacher; it holds the
  [N, views, C] probabilities in memory once.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, estimators, files
from tf_robust_distill.data.augment import AUGMENTATIONS, get_augmentation
from tf_robust_distill.data.teacher_cache import cached_bulk_inference, check_cache, read_cache
from tf_robust_distill.pipeline.cache_paths import teacher_cache_path

FIDELITY_UNCERTAINTIES = ("entropy", "augmentation_variance")
CACHE_ARRAYS = ("values", "fingerprint", "data_fingerprint")


def check_fidelity_uncertainty(settings):
    """Raise a ValueError for a bad ``fidelity_uncertainty``, ``fidelity_views`` or
    ``fidelity_augmentation`` of ``config.unlabeled``."""
    if settings.fidelity_uncertainty not in FIDELITY_UNCERTAINTIES:
        raise ValueError(
            f"fidelity_uncertainty must be one of {', '.join(FIDELITY_UNCERTAINTIES)}, got "
            f"{settings.fidelity_uncertainty!r}"
        )
    views = settings.fidelity_views
    if not checks.is_integer(views) or views < 2:
        raise ValueError(f"fidelity_views must be an integer >= 2, got {views!r}")
    if settings.fidelity_augmentation not in AUGMENTATIONS:
        raise ValueError(
            f"fidelity_augmentation must be one of {', '.join(sorted(AUGMENTATIONS))}, got "
            f"{settings.fidelity_augmentation!r}"
        )


@dataclasses.dataclass(frozen=True)
class ViewVariance:
    """`estimators.augmentation_variance` of a teacher on a dataset [N], and what keys it."""

    values: np.ndarray
    fingerprint: str
    data_fingerprint: str

    @property
    def num_examples(self):
        return len(self.values)

    def save(self, path):
        """Write to a ``.npz`` file atomically."""
        files.write_npz(
            path,
            values=self.values,
            fingerprint=np.array(self.fingerprint),
            data_fingerprint=np.array(self.data_fingerprint),
        )

    @classmethod
    def load(cls, path, *, fingerprint=None, num_examples=None, data_fingerprint=None):
        """Read a cache; refuse one of another teacher, size, data or order."""
        where = f"augmentation-variance cache {path}"
        stored = read_cache(where, path, CACHE_ARRAYS)
        cached = cls(stored["values"], str(stored["fingerprint"]), str(stored["data_fingerprint"]))
        check_cache(where, cached, fingerprint, num_examples, data_fingerprint)
        return cached


def view_probabilities_step(teacher, augmentation, num_views, temperature):
    """(images [B, ...], indices [B]) -> softmax(f/T) of every view [B, views, C]."""
    augment = get_augmentation(augmentation)

    def step(inputs):
        images, indices = inputs
        views = []
        for view in range(num_views):
            seeds = tf.stack([tf.fill(tf.shape(indices), tf.constant(view, tf.int64)), indices], 1)
            augmented = tf.map_fn(
                lambda pair: augment(pair[0], pair[1]),
                (images, seeds),
                fn_output_signature=images.dtype,
            )
            logits = tf.cast(teacher(augmented, training=False), tf.float32)
            views.append(tf.nn.softmax(logits / temperature))
        return tf.stack(views, axis=1)

    return step


def with_indices(dataset):
    """((x, index), label) for every (x, label) of `dataset`: index is its position."""
    return dataset.enumerate().map(lambda index, example: ((example[0], index), example[1]))


def view_variance(
    teacher, dataset, num_examples, settings, temperature, teacher_directory, batch_size
):
    """`ViewVariance` of the teacher on the unbatched (x, label) `dataset` of `num_examples`,
    at t_B = `temperature`, with the views of ``settings`` (``config.unlabeled``); cached
    in `teacher_directory` under a name holding the augmentation, the views and t_B."""
    kind = (
        f"view_variance_{settings.fidelity_augmentation}_{settings.fidelity_views}views_"
        f"t{temperature:g}"
    )
    return cached_bulk_inference(
        teacher,
        with_indices(dataset),
        step=view_probabilities_step(
            teacher, settings.fidelity_augmentation, settings.fidelity_views, temperature
        ),
        num_examples=num_examples,
        cache_path=teacher_cache_path(teacher_directory, "train", kind=kind),
        batch_size=batch_size,
        load=ViewVariance.load,
        build=lambda views, fingerprint, data_fingerprint: ViewVariance(
            estimators.augmentation_variance(np.swapaxes(views, 0, 1)),
            fingerprint,
            data_fingerprint,
        ),
    )
