"""DistillationModel: the keras.Model every objective of the package subclasses.

A DistillationModel wraps a backbone (any Keras model returning logits) and owns
the training step. Data comes as ``(x, targets)`` where ``targets`` is a dict
(see `objectives.targets`, which reads it): ``label`` (int), ``teacher_probs``
(float [C], temperature already applied), ``weight``, ``index``, ``alpha``, ``topk``,
``labeled``.

An objective declares the keys it reads in ``required_targets`` and implements one
of two hooks:

- ``per_example_loss(targets, logits)``, shape [batch]: the loss is the mean of these
  terms over the global batch (`mean_over_global_batch`). ``training_loss`` adds terms
  that only exist in training (e.g. SoTeacher's consistency term).
- ``batch_loss(targets, logits, training)``, a scalar: for a loss that is not a mean of
  per-example terms (Group DRO's q-weighted class means), this replica's share of the
  global batch's loss, the shares of all replicas summing to it.

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
   the compiled metrics against ``targets['label']`` (always required: the true label,
   or for an unlabeled example whatever label the metrics should compare with, e.g.
   the teacher's top-1).

The step returns nothing else: non-trainable state worth logging (``state_logs``,
e.g. the DRO multipliers) is read on the host once per epoch by `StateLogger`, one of
the ``default_callbacks`` that `fit` adds. By default the teacher never runs inside
this step: students read cached teacher labels. With an `OnlineTeacher` attached
(``attach_teacher``), the train and test steps first fill the targets' teacher keys
from the teacher run on the step's batch.
"""

import keras
import tensorflow as tf

from tf_robust_distill.objectives import array_inputs
from tf_robust_distill.objectives.targets import LABEL, probability_key, probability_targets
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


def mean_over_global_batch(per_example):
    """This replica's share Σ_i ℓ_i / N of the mean over the global batch of N examples.

    Summed over replicas it is the mean of a single device holding the whole batch.
    """
    return tf.reduce_sum(per_example) / global_batch_size(per_example)


def with_default_callbacks(callbacks, defaults, model):
    """`callbacks` with `defaults` put first, but for the types it already holds.

    `callbacks` is what `fit` takes: None, a list (copied), or a
    `keras.callbacks.CallbackList`, into which the missing defaults are inserted and
    given `model` and the list's params (Keras uses a CallbackList as it is handed).
    """
    is_list = isinstance(callbacks, keras.callbacks.CallbackList)
    held = callbacks.callbacks if is_list else list(callbacks or [])
    missing = [
        default for default in defaults if not any(isinstance(c, type(default)) for c in held)
    ]
    held[:0] = missing
    if not is_list:
        return held
    for callback in missing:
        callback.set_model(model)
        if callbacks.params:
            callback.set_params(callbacks.params)
    return callbacks


@keras.saving.register_keras_serializable(package=PACKAGE)
class DistillationModel(keras.Model):
    """Base class: a backbone plus an objective's loss.

    Subclasses set ``required_targets`` (or override the property) and implement
    ``per_example_loss`` or ``batch_loss``; ``default_callbacks`` lists the callbacks
    their training always needs. ``model.backbone`` is a plain Keras model to deploy
    without this package.

    Arrays handed to ``fit``, ``evaluate`` and ``predict`` (numpy, or a dict of them) are
    checked once on the host before Keras sees them (`array_inputs`): features finite,
    ``label`` integer in [0, C), ``teacher_probs`` rows probability distributions.

    Args:
      backbone: a Keras model mapping inputs to logits. One that ends in a softmax
        (``Dense(C, activation="softmax")``, a ``Softmax`` layer) returns probabilities,
        and the objective would train the wrong loss on them: refused with a ValueError.
    """

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

    def attach_teacher(self, online_teacher):
        """Run `online_teacher` (an `OnlineTeacher`, or None for cached targets) in every step.

        The teacher's targets replace the batch's cached ones of the same keys. Not saved
        with the model (see `OnlineTeacher`).
        """
        self.online_teacher = online_teacher
        self.train_function = self.test_function = None

    def with_teacher_targets(self, x, targets):
        """`targets` with the online teacher's targets on `x` added, if one is attached."""
        if self.online_teacher is None or not isinstance(targets, dict):
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

    def batch_loss(self, targets, logits, training):
        """This replica's share of the global batch's loss, a float32 scalar.

        The shares of all replicas sum to the loss of the global batch. Here the mean of
        the per-example loss; override for a loss that is not such a mean.
        """
        return mean_over_global_batch(self.example_losses(targets, logits, training))

    def call(self, inputs, training=False):
        return self.backbone(inputs, training=training)

    @property
    def metrics(self):
        compiled = [m for m in super().metrics if m is not self.loss_tracker and m.name != "loss"]
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
        x, targets = data[0], data[1]
        targets = self.with_teacher_targets(x, targets)
        self.check_targets(targets, dict.fromkeys((LABEL, *self.required_targets)))
        with tf.GradientTape() as tape:
            logits, loss = self.logits_and_loss(x, targets, training=True)
            regularization = self.regularization_loss()
            total = loss + replica_share(regularization)
            scaled = self.optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_metrics(x, targets, logits, loss, regularization)

    def logits_and_loss(self, x, targets, training):
        """Float32 logits and this replica's share of the batch loss, from one forward pass."""
        logits = tf.cast(self(x, training=training), tf.float32)
        return logits, self.batch_loss(targets, logits, training)

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
        ``validation_data`` tuple) are checked first (`array_inputs`).
        """
        array_inputs.check_inputs(x, y, self.backbone_classes())
        validation = kw.get("validation_data")
        if isinstance(validation, tuple) and len(validation) >= 2:
            array_inputs.check_inputs(validation[0], validation[1], self.backbone_classes())
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
        x, targets = data[0], data[1]
        targets = self.with_teacher_targets(x, targets)
        self.check_targets(targets, (LABEL,))
        if all(key in targets for key in self.required_targets):
            logits, loss = self.logits_and_loss(x, targets, training=False)
        else:
            logits, loss = tf.cast(self(x, training=False), tf.float32), None
        return self.update_metrics(x, targets, logits, loss, self.regularization_loss())

    def update_metrics(self, x, targets, logits, loss, regularization):
        """Track the loss (objective + regularization) and the compiled metrics.

        `loss` is this replica's share of the batch loss: the batch's loss, summed over
        replicas, is counted once per example. Without the objective's targets (e.g. a
        student evaluated on a test set that carries only labels) no loss is reported
        rather than a meaningless 0.
        """
        if loss is not None:
            batch = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, loss)
            examples = tf.cast(tf.shape(logits)[0], tf.float32)
            self.loss_tracker.update_state(batch + regularization, sample_weight=examples)
        results = self.compute_metrics(x, targets[LABEL], logits)
        if loss is None:
            results.pop(self.loss_tracker.name)
        return results

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


class StateLogger(keras.callbacks.Callback):
    """Adds a DistillationModel's ``state_logs()`` to the logs at the end of every epoch.

    Keras hands every callback the same epoch-logs dict in list order, and appends
    History (and the progress bar) last, so callbacks after this one (History,
    TensorBoard, CSVLogger, ...) see the state. `DistillationModel.fit` puts it first.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.model.state_logs())
