"""SoTeacher: a student-oriented teacher (Lipschitz + consistency regularization).

SoTeacher (§4) trains the teacher on

    ℓ = ℓ_Stand. + λ_LR · ℓ_LR + λ_CR(t) · ℓ_CR,

with ℓ_Stand. the softmax cross-entropy against one-hot labels, ℓ_LR the sum of the
ℓ1 Lipschitz constants of the trainable layers (App. C, `lipschitz_upper_bound`) and
ℓ_CR the squared ℓ2 distance between the current softmax prediction of a training
example and the average of its predictions in earlier epochs (temporal ensembling,
App. C), weighted by a schedule λ_CR(t) that ramps up over the epochs (§4, App. D.1).
The ablations no-LR and no-CR are this model with λ_LR = 0 or λ_CR^max = 0.
"""

import keras
import tensorflow as tf

from tf_robust_distill import checks, losses
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE, DistillationModel
from tf_robust_distill.objectives.consistency import (
    SCHEDULES,
    consistency_loss,
    consistency_weight,
    probabilities,
    running_mean_update,
)
from tf_robust_distill.objectives.lipschitz import check_convolution_term, lipschitz_upper_bound
from tf_robust_distill.objectives.registry import register

BUFFER_DTYPES = ("float32", "float16")


def _check_non_negative(name, value):
    if not value >= 0:
        raise ValueError(f"{name} must be a number >= 0 (0 switches the term off), got {value!r}")


def _check_positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if not checks.is_integer(value) or value < 1:
        allowed = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _num_classes(backbone):
    outputs = getattr(backbone, "outputs", None)
    if not outputs or len(outputs) != 1:
        raise ValueError(
            "SoTeacherModel needs a backbone with one output of known shape (a functional "
            f"model, or a built Sequential one) to size its prediction buffer; got {backbone}."
        )
    return outputs[0].shape[-1]


def _gather_rows(variable, index):
    """Rows `index` of this replica's copy of `variable`, read without copying the rest."""
    return tf.raw_ops.ResourceGather(
        resource=variable.handle, indices=index, dtype=tf.as_dtype(variable.dtype)
    )


@register("soteacher", roles=("teacher",), derived=("num_train_examples",))
@register(
    "soteacher_no_lr",
    roles=("teacher",),
    derived=("num_train_examples",),
    lipschitz_weight=0.0,
)
@register(
    "soteacher_no_cr",
    roles=("teacher",),
    derived=("num_train_examples",),
    consistency_weight_max=0.0,
)
@keras.saving.register_keras_serializable(package=PACKAGE)
class SoTeacherModel(DistillationModel):
    """SoTeacher's teacher objective: CE + λ_LR·ℓ_LR + λ_CR(t)·ℓ_CR (§4, App. C).

    Temporal ensembling is kept online in two non-trainable variables indexed by
    ``targets['index']`` (the example's position in the training set):
    ``prediction_mean`` [N, C], the running mean of the example's earlier softmax
    predictions, and ``prediction_count`` [N], how many there are. The consistency
    term of an example is 0 until it has an earlier prediction (so epoch 0 has
    none); the batch's predictions of the step are then averaged in. Under
    tf.distribute the indices, predictions and earlier rows of all replicas are
    gathered and every replica applies the same scatter update to its copy, so the
    copies stay identical and equal to a single-device run (with one replica there is
    nothing to gather and the step skips it). Both variables are saved with the model;
    with λ_CR^max = 0 (the no-CR ablation) they stay at zero.

    The buffer costs N·C·(2 or 4) bytes per device: ImageNet (1.28M × 1000) needs
    about 2.6 GB in float16 against 5.1 GB in float32; ``buffer_dtype='float16'``
    stores the means in half precision (they are updated in float32).

    λ_CR(t) lives in the non-trainable scalar ``consistency_weight``, set at the start
    of every epoch by `ConsistencyWeightScheduler`, which `fit` adds when its
    callbacks hold none (one of its ``default_callbacks``), and logged as
    ``consistency_weight``.

    ``targets['index']`` must lie in [0, num_train_examples), each example at most once
    per global batch. The range is checked in graph with tf.debugging assertions,
    which fail the step before any variable changes; XLA drops assertions, so under
    ``jit_compile=True`` an out-of-range index is not detected (check the data, or
    run an epoch without jit first).

    Evaluation reports the cross-entropy (plus ℓ_LR and the backbone's losses): the
    buffer describes training examples only.

    Args:
      backbone: a Keras model returning logits, with a known output shape.
      lipschitz_weight: λ_LR >= 0 (paper: 1e-5 on CIFAR-100, 1e-6 on Tiny-ImageNet).
      lipschitz_convolution: the convolution term of ℓ_LR, "operator" (the ℓ1 operator
        norm of the paper's text) or "entrywise" (Σ |K|, the authors' released code, with
        which the paper's λ_LR were tuned); see `objectives.lipschitz`.
      consistency_weight_max: λ_CR^max >= 0 (paper: 1).
      schedule: λ_CR ramp-up, one of 'linear' (§4), 'cosine', 'cyclic', 'piecewise' (App. D.1).
      num_train_examples: N, the size of the training set that ``index`` points into.
      rampup_epochs: T of the schedule; None uses the ``epochs`` given to `fit` (the
        paper's T, the total number of epochs).
      buffer_dtype: 'float32' or 'float16', dtype of ``prediction_mean``.
    """

    required_targets = (targets_dict.LABEL, targets_dict.INDEX)

    def __init__(
        self,
        backbone,
        lipschitz_weight,
        consistency_weight_max,
        schedule="linear",
        *,
        num_train_examples,
        rampup_epochs=None,
        buffer_dtype="float32",
        lipschitz_convolution="operator",
        **kwargs,
    ):
        super().__init__(backbone, **kwargs)
        _check_non_negative("lipschitz_weight", lipschitz_weight)
        _check_non_negative("consistency_weight_max", consistency_weight_max)
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        _check_positive_int("num_train_examples", num_train_examples)
        _check_positive_int("rampup_epochs", rampup_epochs, allow_none=True)
        check_convolution_term(lipschitz_convolution)
        if buffer_dtype not in BUFFER_DTYPES:
            raise ValueError(
                f"buffer_dtype must be one of {', '.join(BUFFER_DTYPES)}, got {buffer_dtype!r}"
            )
        self.lipschitz_weight = float(lipschitz_weight)
        self.consistency_weight_max = float(consistency_weight_max)
        self.schedule = schedule
        self.num_train_examples = num_train_examples
        self.rampup_epochs = rampup_epochs
        self.buffer_dtype = buffer_dtype
        self.lipschitz_convolution = lipschitz_convolution
        if self.lipschitz_weight > 0:
            self.lipschitz_bound()  # unsupported layers fail here, before training
        # aggregation 'none': each replica applies the all-gathered update to its own copy.
        self.prediction_mean = self.add_weight(
            shape=(num_train_examples, _num_classes(backbone)),
            initializer="zeros",
            dtype=buffer_dtype,
            trainable=False,
            autocast=False,
            aggregation="none",
            name="prediction_mean",
        )
        self.prediction_count = self.add_weight(
            shape=(num_train_examples,),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            aggregation="none",
            name="prediction_count",
        )
        self.consistency_weight = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="none",
            name="consistency_weight",
        )

    def per_example_loss(self, targets, logits):
        """ℓ_Stand.: softmax cross-entropy against the one-hot label (also used for evaluation)."""
        return losses.softmax_cross_entropy(
            targets_dict.one_hot_labels(targets, logits.shape[-1]), logits
        )

    def regularization_loss(self):
        """λ_LR · ℓ_LR plus the backbone's own losses (e.g. weight decay), once per global batch."""
        regularization = super().regularization_loss()
        if self.lipschitz_weight == 0:
            return regularization
        return regularization + self.lipschitz_weight * self.lipschitz_bound()

    def lipschitz_bound(self):
        """ℓ_LR of the backbone with the configured convolution term (float32 scalar)."""
        return lipschitz_upper_bound(self.backbone, self.lipschitz_convolution)

    def checked_index(self, targets):
        """``targets['index']`` as int64 [batch], asserted to lie in [0, num_train_examples)."""
        index = targets_dict.example_index(targets)
        message = (
            f"{type(self).__name__}: targets['index'] must be the example's position in the "
            f"training set, in [0, num_train_examples={self.num_train_examples})"
        )
        # One comparison checks both ends: a negative index bit-cast to uint64 is >= 2^63.
        in_range = tf.bitcast(index, tf.uint64) < tf.constant(self.num_train_examples, tf.uint64)
        check = tf.debugging.Assert(tf.reduce_all(in_range), [message])
        with tf.control_dependencies([check]):
            return tf.identity(index)

    def earlier_predictions(self, index):
        """(running mean [batch, C] float32, count [batch]) of the examples at `index`."""
        mean = tf.cast(_gather_rows(self.prediction_mean, index), tf.float32)
        return mean, _gather_rows(self.prediction_count, index)

    def record_predictions(self, index, predictions, mean, count):
        """Average the batch's predictions into the buffer, identically on every replica.

        `mean` and `count` are the rows at `index` read before (`earlier_predictions`);
        the (index, prediction, mean, count) of all replicas are gathered, so every replica
        writes the same rows of the global batch without reading the buffer again.
        """
        context = tf.distribute.get_replica_context()
        if context.num_replicas_in_sync > 1:
            index, predictions, mean, count = (
                context.all_gather(value, axis=0) for value in (index, predictions, mean, count)
            )
        mean, count = running_mean_update(mean, count, predictions)
        self.prediction_mean.value.scatter_update(
            tf.IndexedSlices(tf.cast(mean, self.buffer_dtype), index)
        )
        self.prediction_count.value.scatter_update(tf.IndexedSlices(count, index))

    def training_loss(self, targets, logits):
        """CE + λ_CR(t)·ℓ_CR; records the batch's predictions for the later epochs.

        The index is checked, the buffer rows read and the softmax taken once: the rows
        feed both the consistency term and the running-mean update, which is written
        after they were read (the step's loss uses the earlier predictions only). With
        λ_CR^max = 0 (no-CR) the term is 0 throughout: the buffer is neither read nor written.
        """
        if self.consistency_weight_max == 0:
            return self.per_example_loss(targets, logits)
        index = self.checked_index(targets)
        predictions = probabilities(logits)
        mean, count = self.earlier_predictions(index)
        self.record_predictions(index, tf.stop_gradient(predictions), mean, count)
        consistency = consistency_loss(predictions, mean, count)
        return self.per_example_loss(targets, logits) + self.consistency_weight.value * consistency

    def default_callbacks(self):
        """`StateLogger` and the `ConsistencyWeightScheduler` that sets λ_CR(t)."""
        return [*super().default_callbacks(), ConsistencyWeightScheduler()]

    def get_config(self):
        return {
            **super().get_config(),
            "lipschitz_weight": self.lipschitz_weight,
            "consistency_weight_max": self.consistency_weight_max,
            "schedule": self.schedule,
            "num_train_examples": self.num_train_examples,
            "rampup_epochs": self.rampup_epochs,
            "buffer_dtype": self.buffer_dtype,
            "lipschitz_convolution": self.lipschitz_convolution,
        }


class ConsistencyWeightScheduler(keras.callbacks.Callback):
    """Sets a SoTeacherModel's λ_CR(t) at the start of epoch t; logs it as ``consistency_weight``.

    λ_CR(t) = λ_CR^max · schedule(t, T) (§4, App. D.1) with the model's schedule,
    λ_CR^max and T (``rampup_epochs``, or the ``epochs`` given to `fit`). The value
    depends on the epoch number only, so training resumed with ``initial_epoch``
    continues the schedule.
    """

    def set_model(self, model):
        if not isinstance(model, SoTeacherModel):
            raise TypeError(
                f"ConsistencyWeightScheduler drives a SoTeacherModel, got {type(model).__name__}"
            )
        super().set_model(model)

    def on_epoch_begin(self, epoch, logs=None):
        model = self.model
        total_epochs = model.rampup_epochs or self.params["epochs"]
        model.consistency_weight.assign(
            consistency_weight(model.schedule, epoch, total_epochs, model.consistency_weight_max)
        )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["consistency_weight"] = float(self.model.consistency_weight.numpy())
