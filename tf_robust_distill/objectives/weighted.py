"""Weighted distillation with unlabeled examples: debiasing weights re-estimated from the student.

Iliopoulos, Kontonis, Baykal, Menghani, Trinh, Vee. Weighted Distillation with Unlabeled
Examples. NeurIPS 2022. Algorithm 1 (weighted empirical risk, labeled examples weight 1),
Algorithm 2 (the weights, `estimators.debiasing_weights`), §3.2 (re-estimating them during
training) and §3.3 (composition with fidelity weights: the product of both weights).

The weights live in a non-trainable [N] variable of the model, indexed by
``targets['index']`` (the example's position in the training set), so they are saved with
the model and mirrored under tf.distribute; `DebiasingWeightUpdate` rewrites them from the
host between epochs.
"""

import keras
import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, estimators, losses
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.tempered import TemperedStudent
from tf_robust_distill.softmax import softmax


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExampleWeights(keras.layers.Layer):
    """One non-trainable weight per training example, initialised to 1; called on indices.

    Args:
      num_examples: N, the size of the training set the indices point into.
    """

    def __init__(self, num_examples, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not checks.is_integer(num_examples) or num_examples < 1:
            raise ValueError(f"num_examples must be an integer >= 1, got {num_examples!r}.")
        self.num_examples = int(num_examples)
        self.values = self.add_weight(
            shape=(self.num_examples,), initializer="ones", trainable=False, name="values"
        )
        self.built = True

    def call(self, index):
        """The weights of the examples at `index` ([batch] integers) -> [batch] float32."""
        return tf.gather(self.values, index)

    def assign_at(self, index, weights):
        """Host-side: set the weights at `index` to `weights`, leave the others unchanged.

        Raises:
          ValueError: `index` not 1-D distinct integers in [0, N), or `weights` not finite,
            non-negative and of the same shape.
        """
        index = np.asarray(index)
        weights = np.asarray(weights, dtype=np.float64)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"index must be a 1-D integer array, got shape {index.shape}.")
        if index.size and (index.min() < 0 or index.max() >= self.num_examples):
            raise ValueError(
                f"index must lie in [0, {self.num_examples}) (num_examples); got values in "
                f"[{index.min()}, {index.max()}]."
            )
        if np.unique(index).size != index.size:
            raise ValueError("index must not repeat an example.")
        if weights.shape != index.shape or not np.all(np.isfinite(weights)) or weights.min() < 0:
            raise ValueError(
                f"weights must be finite, non-negative and of shape {index.shape} like index; "
                f"got shape {weights.shape}."
            )
        table = np.array(self.values.numpy())
        table[index] = weights
        self.values.assign(table)

    def get_config(self):
        return {**super().get_config(), "num_examples": self.num_examples}


@register("weighted", roles=("unlabeled_student",), derived=("num_train_examples", "temperature"))
@register(
    "weighted_fidelity",
    roles=("unlabeled_student",),
    derived=("num_train_examples", "temperature"),
    use_fidelity_weights=True,
)
@keras.saving.register_keras_serializable(package=PACKAGE)
class WeightedModel(TemperedStudent, DistillationModel):
    """Weighted empirical risk of Algorithm 1: w_i · xent(y_i, softmax(f(x_i)/T)).

    y_i is ``targets['teacher_probs']`` (the teacher's label on the teacher-labeled set,
    the one-hot true label on labeled examples) and w_i = ``model.debiasing_weights`` at
    ``targets['index']``: 1 until `DebiasingWeightUpdate` estimates it, and 1 forever on
    labeled examples, whose indices the update never writes.

    Args:
      backbone: a Keras model returning logits.
      num_train_examples: N, the number of training examples (the range of ``index``).
      use_fidelity_weights: also multiply by ``targets['weight']`` (fidelity weights,
        §3.3's composition).
      temperature: T of the student's softmax (`TemperedStudent`).
    """

    def __init__(self, backbone, num_train_examples, use_fidelity_weights=False, **kwargs):
        super().__init__(backbone, **kwargs)
        self.debiasing_weights = ExampleWeights(num_train_examples, name="debiasing_weights")
        self.use_fidelity_weights = bool(use_fidelity_weights)

    @property
    def required_targets(self):
        keys = (targets_dict.TEACHER_PROBS, targets_dict.INDEX)
        return (*keys, targets_dict.WEIGHT) if self.use_fidelity_weights else keys

    def per_example_loss(self, targets, logits):
        loss = self.debiasing_weights(
            targets_dict.example_index(targets)
        ) * losses.softmax_cross_entropy(targets_dict.teacher_probs(targets), self.tempered(logits))
        if self.use_fidelity_weights:
            loss *= targets_dict.example_weights(targets)
        return loss

    def get_config(self):
        return {
            **super().get_config(),
            "num_train_examples": self.debiasing_weights.num_examples,
            "use_fidelity_weights": self.use_fidelity_weights,
        }


class DebiasingWeightUpdate(keras.callbacks.Callback):
    """Re-estimates the debiasing weights of the teacher-labeled examples from the current student.

    Algorithm 1, lines 8-9: before training (right after the student was pre-trained on
    the labeled set) and, with `every_n_epochs`, at the end of every n-th epoch (§3.2),
    the student's probabilities on the validation set V and the teacher-labeled set U
    give ``estimators.debiasing_weights``, which are written into the model's
    ``debiasing_weights`` at `unlabeled_index`. Other indices (labeled examples) keep
    weight 1. The teacher's probabilities are its soft labels (Algorithm 2 reads their
    confidence); the labels the student trains on enter line 9's loss ratio only.

    Works with any model holding an `ExampleWeights` as ``debiasing_weights``
    (`WeightedModel`, `VIDModel(num_train_examples=...)`).

    Args:
      validation_inputs: inputs of V, anything ``model.predict`` accepts.
      validation_labels: [V] true labels of V.
      teacher_probs_validation: [V, C] teacher (soft) probabilities on V.
      unlabeled_inputs: inputs of U, in the order of `unlabeled_index`.
      unlabeled_index: [U] positions of U's examples in the training set
        (their ``targets['index']``).
      teacher_probs_unlabeled: [U, C] teacher (soft) probabilities on U.
      training_targets_validation: [V, C] the labels the student would train on at V
        (the teacher's one-hot argmax in hard distillation); default
        `teacher_probs_validation`.
      every_n_epochs: None to estimate once, before training; n >= 1 to re-estimate
        at the end of every n-th epoch too (the paper's grid: 1, 25, 50, 100, 200).
      confidence: 'margin' or 'entropy', the k-NN coordinates of Algorithm 2.
      num_neighbors: k of Algorithm 2; default ⌈√|V| / 2⌉.
      batch_size: batch size of the student's predictions on arrays.
    """

    def __init__(
        self,
        validation_inputs,
        validation_labels,
        teacher_probs_validation,
        unlabeled_inputs,
        unlabeled_index,
        teacher_probs_unlabeled,
        *,
        every_n_epochs=None,
        confidence="margin",
        num_neighbors=None,
        batch_size=256,
        training_targets_validation=None,
    ):
        super().__init__()
        if every_n_epochs is not None and (
            not checks.is_integer(every_n_epochs) or every_n_epochs < 1
        ):
            raise ValueError(
                f"every_n_epochs must be None or an integer >= 1, got {every_n_epochs!r}."
            )
        if confidence not in estimators.knn_weights.CONFIDENCES:
            raise ValueError(
                f"confidence must be one of {sorted(estimators.knn_weights.CONFIDENCES)}, "
                f"got {confidence!r}."
            )
        self.unlabeled_index = np.asarray(unlabeled_index)
        self.teacher_probs_unlabeled = np.asarray(teacher_probs_unlabeled)
        if self.unlabeled_index.shape != self.teacher_probs_unlabeled.shape[:1]:
            raise ValueError(
                f"unlabeled_index has shape {self.unlabeled_index.shape} but "
                f"teacher_probs_unlabeled has {self.teacher_probs_unlabeled.shape[0]} rows; "
                "they must describe the same examples."
            )
        self.validation_inputs = validation_inputs
        self.validation_labels = np.asarray(validation_labels)
        self.teacher_probs_validation = np.asarray(teacher_probs_validation)
        self.training_targets_validation = training_targets_validation
        self.unlabeled_inputs = unlabeled_inputs
        self.every_n_epochs = every_n_epochs
        self.confidence = confidence
        self.num_neighbors = num_neighbors
        self.batch_size = batch_size

    def student_probs(self, inputs):
        """The current student's probabilities softmax(f(x)) [N, C], float64."""
        logits = self.model.predict(inputs, batch_size=self.batch_size, verbose=0)
        return softmax(logits)

    def update(self):
        """Estimate the weights from the current student and write them into the model."""
        weights = estimators.debiasing_weights(
            self.teacher_probs_validation,
            self.student_probs(self.validation_inputs),
            self.validation_labels,
            self.teacher_probs_unlabeled,
            self.student_probs(self.unlabeled_inputs),
            confidence=self.confidence,
            k=self.num_neighbors,
            training_targets_val=self.training_targets_validation,
        )
        self.model.debiasing_weights.assign_at(self.unlabeled_index, weights)

    def on_train_begin(self, logs=None):
        if not isinstance(getattr(self.model, "debiasing_weights", None), ExampleWeights):
            raise TypeError(
                f"DebiasingWeightUpdate needs a model with debiasing weights (WeightedModel, "
                f"VIDModel(num_train_examples=...)); got {type(self.model).__name__}."
            )

    def on_epoch_begin(self, epoch, logs=None):
        # "Before training" is the start of epoch 0: a fit resumed at a later epoch keeps
        # the weights restored with the model.
        if epoch == 0:
            self.update()

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_epochs is not None and (epoch + 1) % self.every_n_epochs == 0:
            self.update()
