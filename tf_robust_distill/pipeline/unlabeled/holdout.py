"""The part of V a hyperparameter search scores its candidates on, held out of everything else.

The student of SLaM §4.1 also trains on V with its true labels, and SLaM's α(x), k(x) and
the debiasing weights are fitted on V: a student's accuracy on V is then partly a training
accuracy, and a search that scored candidates on it would favour those that fit V best.
A search run (``unlabeled.holdout_size`` set) therefore draws H from V at random: H is
neither trained on nor read by any estimator, and the student is scored on H alone; the
rest of V plays V's part. Runs without it use the whole of V and have no H.
"""

import dataclasses

import numpy as np

from tf_robust_distill import data
from tf_robust_distill.pipeline.evaluation import classification_report, predict_logits
from tf_robust_distill.softmax import softmax

HOLDOUT_STREAM = 1
"""H of trial t is drawn with the seed (t, HOLDOUT_STREAM): another stream than V/U's."""


def hold_out(split, dataset, holdout_size, trial):
    """(the split with V \\ H as its validation set, H's positions, sorted).

    Args:
      split: a `data.LabeledSplit` of `dataset`.
      dataset: the split training set (``context.splits.train``).
      holdout_size: |H|, drawn from V without replacement.
      trial: the trial's seed.
    """
    validation = split.validation_positions
    rng = np.random.default_rng((trial, HOLDOUT_STREAM))
    held = np.sort(rng.choice(validation, holdout_size, replace=False))
    kept = np.setdiff1d(validation, held)
    reduced = dataclasses.replace(
        split, validation=data.select_positions(dataset, kept), validation_positions=kept
    )
    return reduced, held


def holdout_report(backbone, context, config, positions):
    """`evaluation.classification_report` of the student on H, with its size."""
    logits = predict_logits(
        backbone,
        data.select_positions(context.splits.train, positions),
        config.eval.batch_size,
    )
    report = classification_report(
        context.splits.train_labels[positions],
        softmax(logits),
        context.splits.num_classes,
        config.eval.worst_k,
    )
    return {**report, "size": int(len(positions))}
