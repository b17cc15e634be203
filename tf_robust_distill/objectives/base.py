"""DistillationModel: the keras.Model every objective of the package subclasses.

A DistillationModel wraps a backbone (any Keras model returning logits) and owns
the training step. Data comes as ``(x, targets)`` where ``targets`` is a dict
(see DESIGN conventions): ``label`` (int), ``teacher_probs`` (float [C], temperature
already applied), ``weight``, ``index``, ``alpha``, ``topk``, ``labeled``.

An objective implements ``per_example_loss(targets, logits)`` and declares the keys
it reads in ``required_targets``. The step

1. checks the keys (a ``ValueError`` naming the missing key, raised while the step
   is traced, so before any weight changes),
2. computes the per-example loss in float32,
3. reduces it as Σ loss / global batch size, the global batch size being summed
   over replicas, and adds the backbone's regularization losses once per global
   batch, so the gradient does not depend on the number of replicas (gradients
   are summed across replicas by the optimizer),
4. applies the gradients (with loss scaling under ``mixed_float16``), and
5. updates the ``loss`` tracker and the compiled metrics against ``targets['label']``
   (always required: the true label, or for an unlabeled example whatever label
   the metrics should compare with, e.g. the teacher's top-1).

The step returns nothing else: non-trainable state worth logging (``state_logs``,
e.g. the DRO multipliers) is read on the host once per epoch by `StateLogger`. The
teacher never runs inside this step: students read cached teacher labels.
"""

import keras
import tensorflow as tf

PACKAGE = "tf_robust_distill"


def global_batch_size(per_example):
    """Number of examples in the global batch: per-replica sizes summed over replicas."""
    local = tf.cast(tf.shape(per_example)[0], tf.float32)
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, local)


def replica_share(value):
    """`value` divided by the number of replicas, so that summing over replicas gives it once."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value / tf.cast(replicas, value.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DistillationModel(keras.Model):
    """Base class: a backbone plus an objective's per-example loss.

    Subclasses set ``required_targets`` (or override the property) and implement
    ``per_example_loss``. ``model.backbone`` is a plain Keras model to deploy
    without this package.

    Args:
      backbone: a Keras model mapping inputs to logits.
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, keras.Model):
            raise TypeError(
                f"backbone must be a keras.Model returning logits, got {type(backbone)}"
            )
        self.backbone = backbone
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def required_targets(self):
        """Keys of the targets dict this objective reads during training."""
        return ("label",)

    def per_example_loss(self, targets, logits):
        """The objective's loss for each example of the batch, shape [batch]."""
        raise NotImplementedError(f"{type(self).__name__} must implement per_example_loss")

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
        self.check_targets(targets, dict.fromkeys(("label", *self.required_targets)))
        with tf.GradientTape() as tape:
            logits, per_example = self.logits_and_loss(x, targets, training=True)
            regularization = self.regularization_loss()
            total = tf.reduce_sum(per_example) / global_batch_size(per_example)
            total += replica_share(regularization)
            scaled = self.optimizer.scale_loss(total)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_metrics(x, targets, logits, per_example, regularization)

    def logits_and_loss(self, x, targets, training):
        """Float32 logits and the per-example loss from one forward pass.

        Override to read more than the logits from the same pass (e.g. VID's features).
        """
        logits = tf.cast(self(x, training=training), tf.float32)
        if training:
            return logits, self.training_loss(targets, logits)
        return logits, self.per_example_loss(targets, logits)

    def training_loss(self, targets, logits):
        """Per-example loss of a training step; terms that only exist in training
        (e.g. SoTeacher's consistency term) are added by overriding this."""
        return self.per_example_loss(targets, logits)

    def state_logs(self):
        """{name: float} of non-trainable state (e.g. DRO multipliers), read on the host.

        `StateLogger` adds them to the logs of every epoch; the train step returns
        only the loss and the metrics. None here.
        """
        return {}

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kw):
        """keras.Model.fit, with a `StateLogger` first when `callbacks` is a list without one."""
        if not isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks = list(callbacks or [])
            if not any(isinstance(callback, StateLogger) for callback in callbacks):
                callbacks.insert(0, StateLogger())
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kw)

    def test_step(self, data):
        x, targets = data[0], data[1]
        self.check_targets(targets, ("label",))
        if all(key in targets for key in self.required_targets):
            logits, per_example = self.logits_and_loss(x, targets, training=False)
        else:
            logits, per_example = tf.cast(self(x, training=False), tf.float32), None
        return self.update_metrics(x, targets, logits, per_example, self.regularization_loss())

    def update_metrics(self, x, targets, logits, per_example, regularization):
        """Track the loss (objective + regularization) and the compiled metrics.

        Without the objective's targets (e.g. a student evaluated on a test set that
        carries only labels) no loss is reported rather than a meaningless 0.
        """
        if per_example is not None:
            self.loss_tracker.update_state(per_example + regularization)
        results = self.compute_metrics(x, targets["label"], logits)
        if per_example is None:
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


class StateLogger(keras.callbacks.Callback):
    """Adds a DistillationModel's ``state_logs()`` to the logs at the end of every epoch.

    Keras hands every callback the same epoch-logs dict in list order, and appends
    History (and the progress bar) last, so callbacks after this one (History,
    TensorBoard, CSVLogger, ...) see the state. `DistillationModel.fit` puts it first.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.model.state_logs())
