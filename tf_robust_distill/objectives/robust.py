"""The robust and trade-off objectives: margin-based DRO with multipliers from validation.

Robust distillation paper (Wang et al.), Algorithm 1 (teacher-labeled validation),
Algorithm 2 / eq. (10) (one-hot validation) and Algorithm 3 (trade-off α). The model
minimizes the margin loss of eq. (9) with costs β/π̂, β = (1 − α)/m + α·λ; the
multipliers λ ∈ Δ_m live in the model as a non-trainable variable (log λ, float32)
and are updated by ``MultiplierUpdate``, a callback that measures the per-class risks
of the current model on a validation set and takes one exponentiated-gradient step:

    model = RobustModel(backbone, class_priors=priors)
    model.compile(optimizer=...)
    model.fit(train, callbacks=[MultiplierUpdate(validation, every_n_steps=100)])

``model.fit(train, validation_data=validation)`` adds ``MultiplierUpdate(validation)``
itself (one update per epoch); a fit with neither is refused, since λ would stay
uniform and the model would train the balanced objective
(``multiplier_update_required=False`` asks for that).

The last iterate λ^K is what the model uses (App. E.3.1); the running average of
λ^1..λ^K is kept too with ``average_iterates=True``. Each λ_j is in the logs of every
epoch as ``lambda_j`` (History, TensorBoard; read once per epoch, not returned by the
train step) and is saved with the model.
"""

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.estimators.exponentiated_gradient import exponentiated_gradient_step
from tf_robust_distill.objectives import array_inputs, multipliers
from tf_robust_distill.objectives.balanced import BalancedModel
from tf_robust_distill.objectives.base import PACKAGE
from tf_robust_distill.objectives.default_callbacks import holds, with_default_callbacks
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.targets import (
    LABEL,
    probability_key,
    probability_targets,
    with_class_ids,
)


def check_validation_settings(validation_labels, risk, distill):
    """Raise a ValueError unless the validation labels and risk are ones the λ-update knows."""
    if validation_labels not in multipliers.VALIDATION_LABELS:
        raise ValueError(
            f"validation_labels must be one of {multipliers.VALIDATION_LABELS}, "
            f"got {validation_labels!r}"
        )
    if risk not in multipliers.RISKS:
        raise ValueError(f"risk must be one of {multipliers.RISKS}, got {risk!r}")
    if validation_labels == "teacher" and not distill:
        raise ValueError(
            "validation_labels='teacher' needs a teacher: use it with distill=True "
            "(a teacher is validated with validation_labels='one_hot')."
        )


def check_step_size(step_size):
    """``step_size`` as a float if it is a positive number."""
    if not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size}")
    return float(step_size)


class ClassMultipliers(keras.layers.Layer):
    """Multipliers λ on the simplex over m classes, stored as log λ (float32).

    The variables are synchronized on read with the first replica's value: every replica
    applies the same update (host-side assignments reach all copies; in-graph updates are
    computed from all-reduced statistics), so the copies stay identical and no
    cross-replica merge is needed inside a step.

    Args:
      num_classes: m.
      average_iterates: also keep λ̄ = (1/K) Σ_{k=1}^K λ^k over the K updates so far.
    """

    def __init__(self, num_classes, average_iterates=False, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.average_iterates = bool(average_iterates)
        uniform = np.full(self.num_classes, 1.0 / self.num_classes, np.float32)
        self.log_multipliers = self._state("log_multipliers", np.log(uniform))
        if self.average_iterates:
            self.averaged_multipliers = self._state("averaged_multipliers", uniform)
            self.num_updates = self._state("num_updates", np.float32(0.0))
        self.built = True

    @staticmethod
    def _state(name, value):
        return keras.Variable(
            value,
            dtype="float32",
            trainable=False,
            autocast=False,
            synchronization="on_read",
            aggregation="only_first_replica",
            name=name,
        )

    def current(self):
        """The last iterate λ^K, shape [m]: what the objective uses."""
        return keras.ops.exp(self.log_multipliers)

    def update(self, risks, step_size):
        """One exponentiated-gradient step λ ∝ λ exp(step_size · risks); returns the new λ.

        Runs eagerly (from a callback) or inside a compiled step.
        """
        log_multipliers = exponentiated_gradient_step(
            self.log_multipliers, keras.ops.cast(risks, "float32"), step_size, xp=keras.ops
        )
        self.log_multipliers.assign(log_multipliers)
        new = keras.ops.exp(log_multipliers)
        if self.average_iterates:
            count = self.num_updates + 1.0
            averaged = self.averaged_multipliers
            self.averaged_multipliers.assign(averaged + (new - averaged) / count)
            self.num_updates.assign(count)
        return new

    def logs(self):
        """{'lambda_j': λ_j} as Python floats, read on the host for the epoch logs."""
        values = keras.ops.convert_to_numpy(self.current())
        return {f"lambda_{j}": float(values[j]) for j in range(self.num_classes)}


class MultiplierSettings:
    """What a model with multipliers λ (``RobustModel``, ``GroupDROModel``) holds of them.

    Mixed in before the model's base class: ``init_multipliers`` checks and keeps the
    EG step size and the validation labels and risk of ``MultiplierUpdate``, and creates
    ``self.multipliers`` (m = ``self.num_classes``); λ is in every epoch's logs and the
    settings in ``get_config``.

    ``fit`` of a model whose λ is updated on validation data
    (``uses_validation_multipliers``) uses the `MultiplierUpdate` its callbacks hold, or
    adds ``MultiplierUpdate(validation_data)`` (an update per epoch), and without
    ``validation_data`` either refuses to train: λ would never move. With
    ``multiplier_update_required=False`` it adds none and trains with λ as it is
    (uniform, or as loaded) unless its callbacks hold a `MultiplierUpdate`.
    """

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kw):
        """`DistillationModel.fit`, with a `MultiplierUpdate` made sure of (see the class)."""
        updated = self.uses_validation_multipliers and self.multiplier_update_required
        if updated and not holds(callbacks, MultiplierUpdate):
            validation = kw.get("validation_data")
            if validation is None:
                raise ValueError(
                    f"{type(self).__name__} updates its multipliers on validation data, but fit "
                    "got neither validation_data nor a MultiplierUpdate callback, so they would "
                    "never change: pass validation_data=... (one update per epoch), or "
                    "callbacks=[MultiplierUpdate(validation, every_n_steps=...)], or build it "
                    "with multiplier_update_required=False to train with them as they are."
                )
            callbacks = with_default_callbacks(callbacks, [MultiplierUpdate(validation)], self)
        return super().fit(x, y, batch_size, epochs, verbose, callbacks, **kw)

    def init_multipliers(
        self,
        step_size,
        validation_labels,
        risk,
        average_iterates=False,
        multiplier_update_required=True,
    ):
        check_validation_settings(validation_labels, risk, self.distill)
        self.step_size = check_step_size(step_size)
        self.validation_labels = validation_labels
        self.risk = risk
        self.multiplier_update_required = bool(multiplier_update_required)
        self.multipliers = ClassMultipliers(self.num_classes, average_iterates, name="multipliers")

    def state_logs(self):
        return self.multipliers.logs()

    def get_config(self):
        return {
            **super().get_config(),
            "step_size": self.step_size,
            "validation_labels": self.validation_labels,
            "risk": self.risk,
            "multiplier_update_required": self.multiplier_update_required,
        }


@register(
    "rob",
    roles=("teacher", "student"),
    derived=("class_priors", "validation_labels"),
    alpha=1.0,
)
@register("tdf", roles=("teacher", "student"), derived=("class_priors", "validation_labels"))
@keras.saving.register_keras_serializable(package=PACKAGE)
class RobustModel(MultiplierSettings, BalancedModel):
    """L^rob / L^rob-d (α = 1) and the trade-off L^tdf / L^tdf-d (α ∈ [0, 1]).

    Per example: margin_loss(p, f, β/π̂) with β = (1 − α)/m + α·λ (Algorithm 3; α = 1 is
    Algorithm 1, α = 0 the balanced objective). λ is updated by ``MultiplierUpdate`` with
    step γ·α on per-class validation risks: ``fit`` adds one on its ``validation_data``
    if `callbacks` hold none, and refuses to train without either unless
    ``multiplier_update_required=False`` (`MultiplierSettings`).

    Args:
      backbone: a Keras model returning logits.
      distill: False for a teacher (one-hot labels), True for a student (teacher probabilities).
      class_priors: [m] π̂, as for ``BalancedModel``.
      alpha: trade-off α in [0, 1].
      step_size: γ > 0, the EG step of the multipliers (paper: 0.1, App. E.2.2).
      validation_labels: 'one_hot' (risks of eq. (10), needs every class in the
        validation set) or 'teacher' (Algorithm 1, students only).
      risk: loss ℓ of the validation risks: 'zero_one' (App. E.3.1) or 'xent'.
      average_iterates: also keep the average of the multiplier iterates
        (``model.multipliers.averaged_multipliers``).
      multiplier_update_required: False lets ``fit`` train without a `MultiplierUpdate`,
        λ then staying as it is (uniform: the balanced objective).
    """

    uses_validation_multipliers = True

    def __init__(
        self,
        backbone,
        distill=False,
        *,
        class_priors=None,
        alpha=1.0,
        step_size=0.1,
        validation_labels="one_hot",
        risk="zero_one",
        average_iterates=False,
        multiplier_update_required=True,
        **kwargs,
    ):
        super().__init__(backbone, distill, class_priors=class_priors, **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.init_multipliers(
            step_size, validation_labels, risk, average_iterates, multiplier_update_required
        )

    def class_weights(self):
        return multipliers.tradeoff_weights(self.multipliers.current(), self.alpha)

    def update_multipliers(self, risks):
        """Algorithm 3's λ-step: λ ∝ λ exp(γ α R), from per-class validation risks R."""
        return self.multipliers.update(risks, self.step_size * self.alpha)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "average_iterates": self.multipliers.average_iterates,
        }


def validation_class_sums(model, validation_data, validation_labels, risk):
    """A function returning (Σ_i w_ij ℓ(j, f(x_i)), Σ_i w_ij) over ``validation_data``.

    The sums run on the model's own strategy: each replica sums its share of every
    batch and the per-replica sums are added, so the result does not depend on the
    number of replicas. Batches are added up on the host in float64. The returned
    function reads the model's current weights each time it is called.
    """
    strategy = model.distribute_strategy
    distributed = strategy.experimental_distribute_dataset(validation_data)
    teacher_labels = validation_labels == "teacher"
    num_classes = model.num_classes

    def replica_sums(x, targets):
        targets = with_class_ids(targets)
        logits = tf.cast(model(x, training=False), tf.float32)
        weights = probability_targets(targets, teacher_labels, num_classes)
        return multipliers.class_sums(weights, multipliers.class_losses(logits, risk))

    @tf.function(reduce_retracing=True)
    def batch_sums(x, targets):
        per_replica = strategy.run(replica_sums, args=(x, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def sums():
        loss_sums, weight_sums = np.zeros(num_classes), np.zeros(num_classes)
        for x, targets in distributed:
            batch_losses, batch_weights = batch_sums(x, targets)
            loss_sums += np.asarray(batch_losses)
            weight_sums += np.asarray(batch_weights)
        return loss_sums, weight_sums

    return sums


def validation_dataset(validation_data, batch_size):
    """`validation_data` as a batched ``tf.data.Dataset`` of (x, targets).

    A dataset is returned as it is. A tuple (x, targets) or (x, targets, sample_weight)
    of arrays, as Keras takes ``validation_data``, is checked (`array_inputs`) and
    batched by `batch_size`; targets is a dict, or an array of labels read as
    ``{'label': targets}``; sample weights do not enter the risks.
    """
    if isinstance(validation_data, tf.data.Dataset):
        return validation_data
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        x, targets = validation_data[:2]
        targets = dict(targets) if isinstance(targets, Mapping) else {LABEL: targets}
        array_inputs.check_inputs(x, targets, None)
        return tf.data.Dataset.from_tensor_slices((x, targets)).batch(batch_size)
    raise TypeError(
        "validation_data must be a batched tf.data.Dataset of (x, targets) or a tuple "
        f"(x, targets) of arrays, got {type(validation_data).__name__}"
    )


class MultiplierUpdate(keras.callbacks.Callback):
    """Updates a model's multipliers λ from its per-class risks on a validation set.

    Before each round of training steps (every ``every_n_steps`` optimizer steps, or
    every epoch when None) the model's risks R_j on ``validation_data`` are measured and
    λ takes one exponentiated-gradient step (Algorithm 1 / 2 / 3): the first update
    happens before the first step, from the initial model f^0, as in Algorithm 1. The
    validation labels ('one_hot' or 'teacher') and the risk's loss come from the model
    (``RobustModel``, or ``GroupDROModel`` with ``use_validation=True``).

    Args:
      validation_data: a batched ``tf.data.Dataset`` of (x, targets), targets a dict
        holding 'label' (one-hot validation) or 'teacher_probs' (teacher validation); or
        a tuple (x, targets) of arrays, as Keras's ``validation_data`` (`validation_dataset`).
      every_n_steps: update every this many optimizer steps; None updates every epoch.
      batch_size: the batch size of validation arrays.
    """

    def __init__(self, validation_data, every_n_steps=None, batch_size=256):
        super().__init__()
        validation_data = validation_dataset(validation_data, batch_size)
        if every_n_steps is not None and not (
            checks.is_integer(every_n_steps) and every_n_steps >= 1
        ):
            raise ValueError(f"every_n_steps must be an integer >= 1 or None, got {every_n_steps}")
        self.validation_data = validation_data
        self.every_n_steps = every_n_steps

    def on_train_begin(self, logs=None):
        model = self.model
        if not getattr(model, "uses_validation_multipliers", False):
            raise ValueError(
                f"MultiplierUpdate updates the multipliers of a RobustModel or of a "
                f"GroupDROModel with use_validation=True, got {type(model).__name__}."
            )
        if self.every_n_steps is not None and model.steps_per_execution != 1:
            raise ValueError(
                "MultiplierUpdate(every_n_steps=...) counts single steps; compile the model "
                f"with steps_per_execution=1 (got {model.steps_per_execution})."
            )
        key = probability_key(model.validation_labels == "teacher")
        spec = self.validation_data.element_spec
        if not (isinstance(spec, tuple) and len(spec) >= 2 and isinstance(spec[1], dict)):
            raise ValueError("validation_data must yield (x, targets) with targets a dict.")
        if key not in spec[1]:
            raise ValueError(
                f"validation_labels={model.validation_labels!r} needs the target key "
                f"'{key}' in validation_data, which only has {sorted(spec[1])}."
            )
        self._class_sums = validation_class_sums(
            model, self.validation_data, model.validation_labels, model.risk
        )
        self._step = int(model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        if self.every_n_steps is None:
            self.update()

    def on_train_batch_begin(self, batch, logs=None):
        if self.every_n_steps is not None and self._step % self.every_n_steps == 0:
            self.update()
        self._step += 1

    def update(self):
        """One λ-step from the current model's validation risks; returns the new λ."""
        loss_sums, weight_sums = self._class_sums()
        missing = np.flatnonzero(weight_sums <= 0)
        if missing.size:
            raise ValueError(
                f"the validation set gives classes {missing.tolist()} no weight, so their "
                f"risks are undefined; validation_labels={self.model.validation_labels!r} "
                "needs every class in the validation set."
            )
        risks = multipliers.per_class_risks(loss_sums, weight_sums, xp=np)
        return self.model.update_multipliers(risks)
