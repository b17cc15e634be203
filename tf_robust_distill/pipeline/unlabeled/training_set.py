"""One trial's student training set of the unlabeled job and its per-example targets.

The student trains on A ∪ V ∪ U (A ∪ U without V, optionally): true labels on A and V,
the teacher's labels on U (weighted paper §3.1.1, Algorithm 1; SLaM §4.1, Algorithm 1,
App. B).
"""

import functools

import numpy as np

from tf_robust_distill import data, estimators, losses
from tf_robust_distill.data.input_pipeline import RESERVED_KEYS
from tf_robust_distill.objectives.weighted import DebiasingWeightUpdate
from tf_robust_distill.pipeline.unlabeled import teacher_uncertainty


class StudentTrainingSet:
    """One trial's student training set, A ∪ V ∪ U (or A ∪ U), and its per-example targets.

    Row i is the training example at ``positions[i]`` (sorted), so ``targets['index']``
    of the input pipeline is the row of every array below.

    - ``teacher_probs`` [n, C]: the one-hot true label on A and V; on U the teacher's
      soft label softmax(f/t_B) (t_B: ``student.temperature``), or its one-hot argmax
      for hard distillation (SLaM Remark 3.1; ``student.hard_labels``). With
      ``labeled_temperature`` t_A set, A carries the teacher's softmax(f/t_A) instead
      (SLaM App. D.5: the teacher is more confident on A, where it was trained, hence
      a temperature of its own). Temperatures apply to soft distillation only; hard
      distillation keeps A's true labels.
    - ``labeled`` [n]: 1 on A and V, 0 on U.
    - ``alpha`` [n], ``topk`` [n, C]: SLaM's α(x) and top(y_s(x); k(x)) on U, from a
      `TeacherAccuracyEstimator` fitted on V (App. B.1); 1 on A and V, where they are unused.
    - ``weight`` [n]: fidelity weights on U, `estimators.fidelity_weights` of the
      teacher's uncertainty u(x) on U (``unlabeled.fidelity_uncertainty``: the entropy
      of softmax(f/t_B), weighted paper App. C.3, or the variance over augmented views,
      SLaM App. D.4; `teacher_uncertainty`), 1 on A and V.
    - ``teacher_features`` [n, D]: the teacher's "features" layer.

    α(x), k(x) and the fidelity weights measure the teacher's confidence, so they read
    its soft labels softmax(f/t_B) in hard distillation too.

    With top-k teacher labels (``student.teacher_top_k``) every array above, and the
    debiasing weights' inputs, read the dense rows of the tail rule (`data.topk_rows`): the
    top k entries, the rest spread uniformly. The teacher's argmax is exact. At t_B = 1 the
    margin (α(x), a k-NN coordinate) is exact for k >= 2 (for k = 1 it is an upper bound:
    the second entry is the tail's mean); the top-j margins of k(x) are exact for j < k;
    top(y_s; k(x)) is exact for k(x) <= k (beyond, tail classes tie and the lower class
    indices are taken); the entropy (fidelity weights, a k-NN coordinate) is an upper
    bound, the uniform tail maximizing it. At t_B != 1 they read the tail rule's bounded
    approximation. The arrays stay [n, C] on the host, as with dense labels: only the cache
    shrinks.
    """

    ARRAYS = ("teacher_probs", "labeled", "alpha", "topk", "weight", "teacher_features")

    def __init__(self, config, context, split, stage):
        self.context, self.split, self.stage = context, split, stage
        self.settings, self.batch_size = config.unlabeled, config.eval.batch_size
        self.temperature = config.student.temperature
        self.hard_labels = config.student.hard_labels
        settings = self.settings
        parts = [split.labeled_positions, split.unlabeled_positions]
        if settings.train_on_validation:
            parts.append(split.validation_positions)
        self.positions = np.sort(np.concatenate(parts))
        self.unlabeled_rows = self.rows(split.unlabeled_positions)

    @property
    def num_examples(self):
        return len(self.positions)

    def rows(self, positions):
        """Rows of the student training set holding the training examples at `positions`."""
        return np.searchsorted(self.positions, positions)

    @functools.cached_property
    def dataset(self):
        """The unbatched (x, label) dataset of the rows, in order."""
        return data.select_positions(self.context.splits.train, self.positions)

    def teacher_labels_at(self, positions):
        """The teacher's labels restricted to the training examples at `positions`."""
        return self.stage.teacher_labels.select(positions)

    def teacher_soft_labels(self, positions):
        """softmax(f/t_B) of the teacher at `positions`."""
        return self.teacher_labels_at(positions).probs(self.temperature)

    def teacher_targets(self, positions):
        """What the student reads as the teacher's label at `positions`: soft at t_B or hard."""
        return self.teacher_labels_at(positions).targets(self.temperature, self.hard_labels)

    @functools.cached_property
    def teacher_probs(self):
        splits, settings = self.context.splits, self.settings
        targets = np.eye(splits.num_classes, dtype=np.float32)[splits.train_labels[self.positions]]
        targets[self.unlabeled_rows] = self.teacher_targets(self.split.unlabeled_positions)
        if settings.labeled_temperature is not None and not self.hard_labels:
            labeled = self.split.labeled_positions
            targets[self.rows(labeled)] = self.teacher_labels_at(labeled).probs(
                settings.labeled_temperature
            )
        return targets

    @functools.cached_property
    def labeled(self):
        labeled = np.ones(self.num_examples, np.float32)
        labeled[self.unlabeled_rows] = 0.0
        return labeled

    @functools.cached_property
    def slam_statistics(self):
        """(α [n], top-k mask [n, C]) of SLaM, Algorithm 2 fitted on V, read on U."""
        settings, split = self.settings, self.split
        estimator = estimators.TeacherAccuracyEstimator(
            settings.slam_lower_bound, settings.slam_threshold, settings.slam_fixed_k
        ).fit(
            self.teacher_soft_labels(split.validation_positions),
            self.context.splits.train_labels[split.validation_positions],
        )
        soft = self.teacher_soft_labels(split.unlabeled_positions)
        alpha = np.ones(self.num_examples, np.float32)
        topk = np.ones((self.num_examples, soft.shape[1]), np.float32)
        alpha[self.unlabeled_rows] = estimator.alpha(soft)
        topk[self.unlabeled_rows] = estimators.top_k_mask(soft, estimator.k(soft))
        losses.check_mixing_inputs(alpha, topk)  # the train step itself does not check
        return alpha, topk

    @property
    def alpha(self):
        return self.slam_statistics[0]

    @property
    def topk(self):
        return self.slam_statistics[1]

    def teacher_uncertainty(self, positions):
        """u(x) of the fidelity weights at `positions` (``unlabeled.fidelity_uncertainty``)."""
        if self.settings.fidelity_uncertainty == "entropy":
            return estimators.prediction_entropy(self.teacher_soft_labels(positions))
        return teacher_uncertainty.view_variance(
            self.stage.teacher,
            self.context.splits.train,
            self.context.num_examples("train"),
            self.settings,
            self.temperature,
            self.stage.teacher_directory,
            self.batch_size,
        ).values[positions]

    @functools.cached_property
    def weight(self):
        weight = np.ones(self.num_examples, np.float32)
        weight[self.unlabeled_rows] = estimators.fidelity_weights(
            self.teacher_uncertainty(self.split.unlabeled_positions),
            self.settings.fidelity_beta,
        )
        return weight

    @functools.cached_property
    def teacher_features(self):
        features = self.stage.teacher_features(self.context, self.batch_size)
        return features[self.positions]

    @property
    def teacher_feature_dim(self):
        return self.teacher_features.shape[1]

    def per_example(self, keys):
        """The arrays named by `keys` (an objective's ``required_targets``), by name.

        ``label`` and ``index`` are set by the input pipeline and skipped here.
        """
        arrays = {}
        for key in keys:
            if key in RESERVED_KEYS:
                continue
            if key not in self.ARRAYS:
                raise ValueError(
                    f"the student training set has no per-example array {key!r}; it has "
                    f"{', '.join(self.ARRAYS)}"
                )
            arrays[key] = getattr(self, key)
        return arrays

    def debiasing_update(self):
        """`DebiasingWeightUpdate` on V and U: once, or every ``weights_every_n_epochs``.

        Algorithm 2 reads the teacher's confidence (lines 5, 14) from its soft labels
        softmax(f/t_B) on V and U, hard distillation included, and scores the student
        against the labels it trains on (line 9: the one-hot argmax in hard distillation).
        """
        split, batch_size = self.split, self.batch_size
        return DebiasingWeightUpdate(
            data.evaluation_pipeline(split.validation, batch_size),
            self.context.splits.train_labels[split.validation_positions],
            self.teacher_soft_labels(split.validation_positions),
            data.evaluation_pipeline(split.unlabeled, batch_size),
            self.unlabeled_rows,
            self.teacher_soft_labels(split.unlabeled_positions),
            every_n_epochs=self.settings.weights_every_n_epochs,
            confidence=self.settings.weights_confidence,
            num_neighbors=self.settings.weights_num_neighbors,
            training_targets_validation=self.teacher_targets(split.validation_positions),
        )

    def teacher_accuracy_on_unlabeled(self):
        """The fraction of U whose teacher top-1 class is the true label (1 − its noise rate)."""
        positions = self.split.unlabeled_positions
        predicted = self.stage.teacher_labels.select(positions).argmax()
        return float(np.mean(predicted == self.context.splits.train_labels[positions]))
