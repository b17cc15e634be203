"""DistillationModel: the keras.Model every objective of the package subclasses.

A DistillationModel wraps a backbone (any Keras model returning logits) and owns
the training step. Data comes as ``(x, targets)`` or ``(x, targets, sample_weight)``
where ``targets`` is a dict (see `objectives.targets`, which reads it): ``label`` (int,
or a one-hot row, read as its argmax), ``teacher_probs`` (float [C], temperature already
applied), ``weight``, ``index``, ``alpha``, ``topk``, ``labeled``. Keras's sample weights
(``fit(..., sample_weight=w)``, ``class_weight`` through ``label``: `class_weights`)
multiply each example's loss, as Keras does for a compiled loss.

An objective declares the keys it reads in ``required_targets`` and implements one
of two hooks:

- ``per_example_loss(targets, logits)``, shape [batch]: the loss is the mean of these
  terms over the global batch (`mean_over_global_batch`). ``training_loss`` adds terms
  that only exist in training (e.g. SoTeacher's consistency term).
- ``batch_loss(targets, logits, training, sample_weight)``, a scalar: for a loss that is
  not a mean of per-example terms (Group DRO's q-weighted class means), this replica's
  share of the global batch's loss, the shares of all replicas summing to it.

The step

1. checks the keys (a ``ValueError`` naming the missing key, raised while the step
   is traced, so before any weight changes),
2. computes the replica's share of the batch loss in float32, as Σ loss / global
   batch size for per-example losses, the global batch size being summed over
   replicas, and adds the backbone's regularization losses once per global batch,
   so the gradient does not depend on the number of replicas (gradients are summed
   across replicas by the optimizer),
3. applies the gradients (with loss scaling under ``mixed_float16``), and
4. updates the ``loss`` tracker (the mean of the batch losses over the examples) and
   the compiled metrics against ``targets['label']`` (the true label, or for an
   unlabeled example whatever label the metrics should compare with, e.g. the
   teacher's top-1). ``label`` is required only by the objectives that read it: without
   it (SLaM or weighted students on unlabeled rows) the compiled metrics are not
   computed in training, only on validation data that has labels.

Evaluation (``evaluate``, Keras's validation pass) reports the objective's loss when
the data holds its targets, and otherwise the softmax cross-entropy against ``label``
(e.g. a student validated on a labeled set without teacher targets), so that
``val_loss``, the default monitor of ``EarlyStopping``, always exists.

The step returns nothing else: non-trainable state worth logging (``state_logs``,
e.g. the DRO multipliers) is read on the host once per epoch by `StateLogger`, one of
the ``default_callbacks`` that `fit` adds. By default the teacher never runs inside
this step: students read cached teacher labels. With an `OnlineTeacher` attached
(``attach_teacher``), the train and test steps first fill the targets' teacher keys
from the teacher run on the step's batch.
"""

import keras
import tensorflow as tf

from tf_robust_distill import losses
from tf_robust_distill.objectives import array_inputs, class_weights
from tf_robust_distill.objectives.default_callbacks import StateLogger, with_default_callbacks
from tf_robust_distill.objectives.targets import (
    LABEL,
    one_hot_labels,
    probability_key,
    probability_targets,
    with_class_ids,
)
from tf_robust_distill.probability_outputs import ends_in_softmax, probability_output_error

PACKAGE = "tf_robust_distill"


def global_batch_size(per_example):
    """Number of examples in the global batch: per-replica sizes summed over replicas."""
    local = tf.cast(tf.shape(per_example)[0], tf.float32)
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local)


def replica_share(value):
    """`value` divided by the number of replicas, so that summing over replicas gives it once."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / tf.cast(replicas, value.dtype)


def mean_over_global_batch(per_example, sample_weight=None):
    """This replica's share Σ_i w_i ℓ_i / N of the mean over the global batch of N examples.

    w_i = 1 without `sample_weight` (Keras's "sum over batch size" reduction with it).
    Summed over replicas it is the mean of a single device holding the whole batch.
    """
    weighted = per_example if sample_weight is None else per_example * sample_weight
    return tf.reduce_sum(weighted) / global_batch_size(per_example)


def step_sample_weight(sample_weight):
    """Keras's sample weights of a batch as float32 [batch], or None.

    ``fit(x, targets, sample_weight=w)`` with arrays reaches the step as one copy of w
    per target key (Keras's rule for several outputs): the first copy is read.
    """
    if sample_weight is None:
        return None
    return tf.reshape(tf.cast(tf.nest.flatten(sample_weight)[0], tf.float32), [-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class DistillationModel(keras.Model):
    """Base class: a backbone plus an objective's loss.

    Subclasses set ``required_targets`` (or override the property) and implement
    ``per_example_loss`` or ``batch_loss``; ``default_callbacks`` lists the callbacks
    their training always needs. ``model.backbone`` is a plain Keras model to deploy
    without this package.

    Arrays handed to ``fit``, ``evaluate`` and ``predict`` (numpy, or a dict of them) are
    checked once on the host before Keras sees them (`array_inputs`): features finite,
    ``label`` integer in [0, C) (or one-hot rows), ``teacher_probs`` rows probability
    distributions.

    Every objective creates its state in ``__init__``, so the model is built as soon as
    its backbone is (a functional backbone always is): Keras's ``BackupAndRestore``
    restores it before the first step. ``class_reweighting`` names, for an objective
    that weights classes itself, why ``fit(class_weight=...)`` is refused.

    Args:
      backbone: a Keras model mapping inputs to logits. One that ends in a softmax
        (``Dense(C, activation="softmax")``, a ``Softmax`` layer) returns probabilities,
        and the objective would train the wrong loss on them: refused with a ValueError.
    """

    class_reweighting = None

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.Model):
            raise TypeError(
                f"backbone must be a keras.Model returning logits, got {type(backbone)}"
            )
        if ends_in_softmax(backbone):
            raise probability_output_error(backbone, type(self).__name__)
        self.backbone = backbone
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.online_teacher = None
        # Every variable is created in __init__ (here and in subclasses): built now, so
        # that BackupAndRestore restores the model before its first step.
        self.built = backbone.built

    def attach_teacher(self, online_teacher):
        """Run `online_teacher` (an `OnlineTeacher`, or None for cached targets) in every step.

        The teacher's targets replace the batch's cached ones of the same keys. Not saved
        with the model (see `OnlineTeacher`).
        """
        self.online_teacher = online_teacher
        self.train_function = self.test_function = None

    def step_inputs(self, data):
        """(x, targets, sample_weight) of a step's batch, the targets as `step_targets` reads."""
        x, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(targets, dict):
            targets = self.step_targets(x, targets)
        return x, targets, step_sample_weight(sample_weight)

    def step_targets(self, x, targets):
        """The targets dict the step reads: a one-hot ``label`` as class ids
        (`targets.with_class_ids`), and the online teacher's targets on `x` if one is
        attached. Subclasses may derive more (`KDModel`: ``teacher_logits``)."""
        targets = with_class_ids(targets)
        if self.online_teacher is None:
            return targets
        return {**targets, **self.online_teacher.targets(x)}

    @property
    def required_targets(self):
        """Keys of the targets dict this objective reads during training."""
        return (LABEL,)

    def per_example_loss(self, targets, logits):
        """The objective's loss for each example of the batch, shape [batch]."""
        raise NotImplementedError(f"{type(self).__name__} must implement per_example_loss")

    def training_loss(self, targets, logits):
        """Per-example loss of a training step; terms that only exist in training
        (e.g. SoTeacher's consistency term) are added by overriding this."""
        return self.per_example_loss(targets, logits)

    def example_losses(self, targets, logits, training):
        """The step's per-example loss: ``training_loss`` in training, else ``per_example_loss``."""
        if training:
            return self.training_loss(targets, logits)
        return self.per_example_loss(targets, logits)

    def batch_loss(self, targets, logits, training, sample_weight=None):
        """This replica's share of the global batch's loss, a float32 scalar.

        The shares of all replicas sum to the loss of the global batch. Here the mean of
        the per-example loss, each term times its sample weight if any; override for a
        loss that is not such a mean.
        """
        per_example = self.example_losses(targets, logits, training)
        return mean_over_global_batch(per_example, sample_weight)

    def call(self, inputs, training=False):
        return self.backbone(inputs, training=training)

    @property
    def metrics(self):
        """The loss tracker, then the compiled metrics once a step has updated them (a
        student trained on data without ``label`` does not: `update_metrics`)."""
        unbuilt = getattr(self, "_compile_metrics", None)
        unbuilt = unbuilt if unbuilt is not None and not unbuilt.built else None
        compiled = [
            m
            for m in super().metrics
            if m is not self.loss_tracker and m.name != "loss" and m is not unbuilt
        ]
        return [self.loss_tracker, *compiled]

    def check_targets(self, targets, keys):
        """Raise a ValueError naming the first key of `keys` that `targets` lacks.

        Also refuses a compiled `loss`: the objective is the model's own.
        """
        if self.loss is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own objective; compile it without `loss` "
                "(optimizer, metrics, jit_compile, ... are fine)."
            )
        if not isinstance(targets, dict):
            raise ValueError(
                f"{type(self).__name__} expects (x, targets) with targets a dict holding "
                f"{list(keys)}; got targets of type {type(targets).__name__}."
            )
        for key in keys:
            if key not in targets:
                raise ValueError(
                    f"{type(self).__name__} needs the target key '{key}', but the dataset's "
                    f"targets only have {sorted(targets)}. Required: {list(keys)}."
                )

    def regularization_loss(self):
        """The backbone's (and this model's) added losses, e.g. L2 weight decay."""
        if not self.losses:
            return tf.constant(0.0)
        return tf.add_n([tf.cast(term, tf.float32) for term in self.losses])

    def train_step(self, data):
        x, targets, sample_weight = self.step_inputs(data)
        self.check_targets(targets, self.required_targets)
        with tf.GradientTape() as tape:
            logits, loss = self.logits_and_loss(x, targets, True, sample_weight)
            regularization = self.regularization_loss()
            total = loss + replica_share(regularization)
            scaled = self.optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_metrics(x, targets, logits, loss, regularization, sample_weight)

    def logits_and_loss(self, x, targets, training, sample_weight=None):
        """Float32 logits and this replica's share of the batch loss, from one forward pass."""
        logits = tf.cast(self(x, training=training), tf.float32)
        return logits, self.batch_loss(targets, logits, training, sample_weight)

    def state_logs(self):
        """{name: float} of non-trainable state (e.g. DRO multipliers), read on the host.

        `StateLogger` adds them to the logs of every epoch; the train step returns
        only the loss and the metrics. None here.
        """
        return {}

    def default_callbacks(self):
        """Callbacks every `fit` of this model runs: `StateLogger`; subclasses add theirs."""
        return [StateLogger()]

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kw):
        """keras.Model.fit, with ``default_callbacks()`` first, but for the types `callbacks` holds.

        `callbacks` may be a list or a `keras.callbacks.CallbackList`. Arrays (x, y and a
        ``validation_data`` tuple) are checked first (`array_inputs`). ``class_weight``
        weights each example by the class of its ``label`` (Keras's semantics,
        `class_weights`); an objective that weights classes itself refuses it.
        """
        num_classes = self.backbone_classes()
        array_inputs.check_inputs(x, y, num_classes)
        validation = kw.get("validation_data")
        if isinstance(validation, tuple) and len(validation) >= 2:
            array_inputs.check_inputs(validation[0], validation[1], num_classes)
        class_weight = kw.pop("class_weight", None)
        if class_weight is not None:
            if self.class_reweighting is not None:
                raise ValueError(
                    f"{type(self).__name__} refuses class_weight: {self.class_reweighting}, "
                    "and class_weight would multiply those weights. Leave it out (or train "
                    "StandardModel or KDModel with it)."
                )
            x, kw = class_weights.with_class_weights(x, y, class_weight, num_classes, kw)
        callbacks = with_default_callbacks(callbacks, self.default_callbacks(), self)
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kw)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """keras.Model.evaluate, arrays checked first (`array_inputs`)."""
        array_inputs.check_inputs(x, y, self.backbone_classes())
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """keras.Model.predict, array features checked first (`array_inputs`)."""
        array_inputs.check_features(x)
        return super().predict(x, *args, **kwargs)

    def backbone_classes(self):
        """C, the backbone's number of outputs, or None if it is not known before a call."""
        try:
            return int(self.backbone.output_shape[-1])
        except (AttributeError, TypeError, ValueError):
            return None

    def test_step(self, data):
        """The objective's loss if the data holds its targets, else the softmax
        cross-entropy against ``label`` (a student validated on labels only), so that
        evaluation always reports a ``loss`` (``val_loss`` in ``fit``)."""
        x, targets, sample_weight = self.step_inputs(data)
        self.check_targets(targets, ())
        if all(key in targets for key in self.required_targets):
            logits, loss = self.logits_and_loss(x, targets, False, sample_weight)
        else:
            self.check_targets(targets, (LABEL,))
            logits = tf.cast(self(x, training=False), tf.float32)
            label_loss = losses.softmax_cross_entropy(
                one_hot_labels(targets, logits.shape[-1]), logits
            )
            loss = mean_over_global_batch(label_loss, sample_weight)
        regularization = self.regularization_loss()
        return self.update_metrics(x, targets, logits, loss, regularization, sample_weight)

    def update_metrics(self, x, targets, logits, loss, regularization, sample_weight=None):
        """Track the loss (objective + regularization) and the compiled metrics.

        `loss` is this replica's share of the batch loss: the batch's loss, summed over
        replicas, is counted once per example. Without ``label`` in the targets the
        compiled metrics are left alone and only the loss is returned.
        """
        batch = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, loss)
        examples = tf.cast(tf.shape(logits)[0], tf.float32)
        self.loss_tracker.update_state(batch + regularization, sample_weight=examples)
        if LABEL not in targets:
            return {self.loss_tracker.name: self.loss_tracker.result()}
        return self.compute_metrics(x, targets[LABEL], logits, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["backbone"] = keras.saving.serialize_keras_object(self.backbone)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


class ProbabilityTargetModel(DistillationModel):
    """An objective trained against one probability vector per example: a label's or a teacher's.

    One class serves teacher and student (robust distillation paper, §3): with
    ``distill=False`` the probability targets are the one-hot ``targets['label']`` (a
    teacher), with ``distill=True`` the teacher's ``targets['teacher_probs']`` (a
    student); ``required_targets`` follow. Not serializable itself: use a subclass.

    Args:
      backbone: a Keras model returning logits.
      distill: False trains against one-hot labels, True against teacher probabilities.
    """

    def __init__(self, backbone, distill=False, **kwargs):
        super().__init__(backbone, **kwargs)
        self.distill = bool(distill)

    @property
    def required_targets(self):
        return (probability_key(self.distill),)

    def probability_targets(self, targets, logits):
        """[batch, C] float32: teacher probabilities when distilling, else one-hot labels."""
        return probability_targets(targets, self.distill, logits.shape[-1])

    def get_config(self):
        return {**super().get_config(), "distill": self.distill}
