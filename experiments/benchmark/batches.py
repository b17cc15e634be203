"""The benchmark's data: the same random batches, in memory, for every timed model."""

import numpy as np
import tensorflow as tf

from experiments.benchmark.settings import (
    BATCH_SIZE,
    IMAGE_SHAPE,
    NUM_CLASSES,
    TEACHER_FEATURE_DIM,
)
from tf_robust_distill import data, objectives
from tf_robust_distill.softmax import softmax


def random_per_example_targets(labels, num_classes, rng):
    """Every per-example target an objective may read (DESIGN conventions), at random."""
    num_examples = len(labels)
    logits = rng.normal(size=(num_examples, num_classes)) + 3.0 * np.eye(num_classes)[labels]
    teacher_probs = softmax(logits).astype(np.float32)
    top3 = np.argsort(-teacher_probs, axis=1)[:, :3]
    topk = np.zeros_like(teacher_probs)
    np.put_along_axis(topk, top3, 1.0, axis=1)
    return {
        "teacher_probs": teacher_probs,
        "weight": rng.uniform(0.5, 1.0, num_examples).astype(np.float32),
        "alpha": rng.uniform(0.5, 1.0, num_examples).astype(np.float32),
        "topk": topk,
        "labeled": (rng.uniform(size=num_examples) < 0.2).astype(np.float32),
        "teacher_features": rng.normal(size=(num_examples, TEACHER_FEATURE_DIM)).astype(np.float32),
    }


class FixedBatches:
    """`steps` batches of random images and targets from `data.training_pipeline`, in memory.

    Every model reads the same batches in the same order; a model's dataset slices them
    from stacked tensors, so the input pipeline costs next to nothing in a timed step.
    """

    def __init__(self, steps, batch_size=BATCH_SIZE, seed=0):
        rng = np.random.default_rng(seed)
        self.num_examples = steps * batch_size
        x = rng.uniform(size=(self.num_examples, *IMAGE_SHAPE)).astype(np.float32)
        labels = rng.integers(0, NUM_CLASSES, self.num_examples).astype(np.int32)
        pipeline = data.training_pipeline(
            tf.data.Dataset.from_tensor_slices((x, labels)),
            batch_size,
            seed=seed,
            per_example=random_per_example_targets(labels, NUM_CLASSES, rng),
            drop_remainder=True,
        )
        batches = list(pipeline)
        self.x = tf.stack([batch_x for batch_x, _ in batches])
        self.targets = {
            key: tf.stack([targets[key] for _, targets in batches]) for key in batches[0][1]
        }

    def class_priors(self):
        """The teacher's marginal over the batches: a student's π̂."""
        probs = tf.reshape(self.targets["teacher_probs"], (-1, NUM_CLASSES)).numpy()
        return objectives.class_priors_from_probs(probs)

    def with_targets(self, keys):
        """Dataset of (x, {key: target}) for `keys`: what a DistillationModel reads."""
        return tf.data.Dataset.from_tensor_slices((self.x, {k: self.targets[k] for k in keys}))

    def with_labels(self):
        """Dataset of (x, label): what plain Keras reads."""
        return tf.data.Dataset.from_tensor_slices((self.x, self.targets["label"]))
