"""Training that survives preemption, repeats exactly, and stops on a non-finite loss.

`fit_resumably` wraps ``model.fit`` for the jobs:

- At the end of every epoch the whole training state is checkpointed in a directory
  of its own (`TrainingCheckpoint`): every variable of the model (weights, the DRO
  multipliers λ, SoTeacher's prediction buffer and counts, re-estimated example
  weights, random-seed states), every variable of the optimizer (slots and step
  count), the number of finished epochs and their logs. Keras 3's BackupAndRestore
  saves the model with ``save_weights`` in place (a kill while writing loses the
  backup) and keeps no logs, so this is a `tf.train.CheckpointManager` instead: a new
  checkpoint becomes the latest only once completely written. The latest two are kept:
  a damaged latest checkpoint (e.g. a truncated file) falls back to the one before it,
  and a run with no readable checkpoint says which directory to delete.
- A restarted run restores the latest checkpoint before ``fit`` and continues at the
  next epoch, on the batches the uninterrupted run saw there (the input pipeline
  makes epoch e a function of the seed and e); a run killed mid-epoch repeats that
  epoch from its start. The logs of the restored epochs come back in the history.
  Callbacks that keep state on the host re-derive it from restored variables
  (`MultiplierUpdate` counts steps from ``optimizer.iterations``) or act on epoch
  numbers (`DebiasingWeightUpdate`, `ConsistencyWeightScheduler`).
- A non-finite loss raises `NonFiniteLossError` at once (Keras's TerminateOnNaN only
  stops, and then Keras still ends the epoch); an epoch ends with a checkpoint only
  if its logs and weights are finite, so the last good checkpoint is never
  overwritten, and the caller writes no model and no results.
- The checkpoint directory is removed after a successful ``fit``.

With ``deterministic=True`` TensorFlow's ops are deterministic
during the fit (`tf.config.experimental.enable_op_determinism`, `deterministic_ops`), so
the same seed gives the same weights, and a resumed run the same as an
uninterrupted one.
"""

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import warnings
import zipfile

import keras
import tensorflow as tf
from absl import logging as absl_logging
from tensorflow.python.framework import config as tf_config  # op determinism off again

from tf_robust_distill.distribute import worker_directory
from tf_robust_distill.grid import UNSHARED_SECTIONS

CHECKPOINTS = "checkpoints"
KEPT_CHECKPOINTS = 2
"""The latest checkpoint and the one before it, to fall back to if the latest is damaged."""
DAMAGED_CHECKPOINT_ERRORS = (IndexError, EOFError, OSError, tf.errors.OpError)
"""What reading a truncated or missing checkpoint file raises (``IndexError: Read less
bytes than requested`` for a truncated data file, an OpError "not an sstable" for a
truncated index); a checkpoint of other variables raises AssertionError or ValueError."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (or weights); nothing was saved for it."""


def jit_compile_for(deterministic):
    """``model.compile``'s jit_compile for a job: no XLA with deterministic ops (not every
    XLA kernel is deterministic, Keras's own rule), else Keras's ``'auto'``."""
    return False if deterministic else "auto"


@contextlib.contextmanager
def deterministic_ops(enabled):
    """TensorFlow's deterministic ops on inside the block if `enabled`, as before after it.

    Scoped rather than left on for the process: with op determinism on, Keras refuses
    ``jit_compile=True`` for every model compiled afterwards, in the user's code too.
    """
    previous = tf_config.is_op_determinism_enabled()
    if enabled and not previous:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not previous:
            tf_config.disable_op_determinism()


def load_model(path, remedy):
    """``keras.models.load_model(path)``, after checking that `path` is a whole archive.

    Raises:
      ValueError: `path` is no readable zip archive or one of its members is damaged
        (e.g. a truncated file), naming it and `remedy`.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable .keras file ({error}); {remedy}") from error
    if damaged is not None:
        raise ValueError(f"{path} is damaged (its member {damaged} is corrupt); {remedy}")
    return keras.models.load_model(path)


def run_settings(config):
    """The config as a dict, without the sections that do not change a run (grid, verbose)."""
    return {key: value for key, value in config.to_dict().items() if key not in UNSHARED_SECTIONS}


def checkpoint_directory(workdir, name, description):
    """``workdir/checkpoints/<name>-<hash of description>``: one directory per training run.

    Args:
      description: a JSON-able dict of everything that determines the run (e.g. the
        config), so that a changed run never restores another run's checkpoint.
    """
    text = json.dumps(description, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return os.path.join(workdir, CHECKPOINTS, f"{name}-{digest}")


class _WarningsAndAbove(logging.Filter):
    def filter(self, record):
        return record.levelno >= logging.WARNING


@contextlib.contextmanager
def quiet_checkpoint_logs():
    """Drop the INFO lines TensorFlow's checkpoint writer logs through absl on every save
    (``functional_saver.py] Sharding callback duration: ...``) inside the block; warnings
    and errors pass, and other loggers are untouched."""
    quiet = _WarningsAndAbove()
    logger = absl_logging.get_absl_logger()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


class TrainingProgress(tf.train.experimental.PythonState):
    """The number of finished epochs and their logs, stored in the checkpoint as JSON."""

    def __init__(self):
        self.epochs = 0
        self.logs = []

    def serialize(self):
        return json.dumps({"epochs": self.epochs, "logs": self.logs})

    def deserialize(self, string_value):
        stored = json.loads(string_value)
        self.epochs, self.logs = stored["epochs"], stored["logs"]

    def history(self):
        """The logs as ``History.history``: metric name -> one value per finished epoch."""
        names = dict.fromkeys(name for logs in self.logs for name in logs)
        return {name: [logs.get(name) for logs in self.logs] for name in names}


class TrainingCheckpoint:
    """The training state of a compiled model, checkpointed in `directory` (the latest two
    kept).

    The variables are listed when this object is made, before ``fit``: the model's
    (``model.variables``) and the optimizer's, which is built here if it is not yet.
    """

    def __init__(self, model, directory):
        if not model.optimizer.built:
            with model.distribute_strategy.scope():
                model.optimizer.build(model.trainable_variables)
        self.directory = directory
        self.progress = TrainingProgress()
        self.checkpoint = tf.train.Checkpoint(
            model=list(model.variables),
            optimizer=list(model.optimizer.variables),
            progress=self.progress,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, directory, max_to_keep=KEPT_CHECKPOINTS
        )

    def restore(self):
        """Restore the latest readable checkpoint, if any; returns the number of finished epochs.

        A checkpoint whose files are damaged (e.g. a truncated data file) is skipped for the
        one before it, so the run repeats one more epoch, exactly as it ran the first time.

        Raises:
          ValueError: a checkpoint holds other variables than the model's, or no kept
            checkpoint is readable; the message names the files and the directory to
            delete to train from the start.
        """
        damaged = []
        for path in reversed(self.manager.checkpoints):
            try:
                with quiet_checkpoint_logs():
                    self.checkpoint.restore(path).assert_consumed()
            except DAMAGED_CHECKPOINT_ERRORS as error:
                damaged.append(f"{path} ({type(error).__name__}: {error})")
                continue
            except (AssertionError, ValueError) as error:
                raise ValueError(
                    f"the checkpoint {path} does not match the model being trained ({error}); "
                    f"delete {self.directory} to train from the start."
                ) from error
            if damaged:
                warnings.warn(
                    f"skipped the damaged checkpoint(s) {'; '.join(damaged)}; resuming from {path}",
                    stacklevel=2,
                )
            return self.progress.epochs
        if damaged:
            raise ValueError(
                f"every kept checkpoint is damaged: {'; '.join(damaged)}. Delete "
                f"{self.directory} to train from the start."
            )
        return 0

    def save(self, epoch, logs):
        """Checkpoint the state at the end of `epoch` (0-based) with its logs."""
        self.progress.epochs = epoch + 1
        self.progress.logs.append({name: float(value) for name, value in logs.items()})
        with quiet_checkpoint_logs():
            self.manager.save(checkpoint_number=epoch + 1)

    def remove(self):
        """Delete the checkpoints, and the ``checkpoints`` directory holding them once empty."""
        shutil.rmtree(self.directory, ignore_errors=True)
        parent = os.path.dirname(os.path.abspath(self.directory))
        if os.path.basename(parent) == CHECKPOINTS and not os.listdir(parent):
            os.rmdir(parent)


def non_finite_error(role, what, epoch, epochs, step, directory):
    return NonFiniteLossError(
        f"{role}: {what} in epoch {epoch + 1}/{epochs}, at optimizer step {step}; training "
        f"stopped. The checkpoint of the last finished epoch (in {directory}, if any) is "
        "kept and no model or results were written. Try a smaller train.learning_rate, a "
        "learning-rate warm-up (train.warmup_epochs), float32 instead of mixed precision, "
        "or check the data for NaN or infinite values."
    )


class NonFiniteLossCheck(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` after the first training step whose loss is not finite."""

    def __init__(self, role, directory):
        super().__init__()
        self.role, self.directory = role, directory
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            raise non_finite_error(
                self.role,
                f"the training loss is {float(loss)}",
                self.epoch,
                self.params["epochs"],
                step,
                self.directory,
            )


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a `TrainingCheckpoint` at the end of every epoch whose logs and weights are finite.

    Put it last among the callbacks, so that it saves what the others changed at the
    end of the epoch (e.g. re-estimated example weights). An epoch with a non-finite
    log (e.g. ``val_loss``) or weight raises `NonFiniteLossError` instead of saving.
    """

    def __init__(self, checkpoint, role):
        super().__init__()
        self.checkpoint, self.role = checkpoint, role

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        bad = sorted(name for name, value in logs.items() if not math.isfinite(float(value)))
        if not bad and not all(
            bool(tf.reduce_all(tf.math.is_finite(variable)))
            for variable in self.model.trainable_variables
        ):
            bad = ["the weights"]
        if bad:
            raise non_finite_error(
                self.role,
                f"{', '.join(bad)} not finite",
                epoch,
                self.params["epochs"],
                int(self.model.optimizer.iterations.numpy()),
                self.checkpoint.directory,
            )
        self.checkpoint.save(epoch, logs)


def fit_resumably(
    model,
    batches,
    directory,
    *,
    role,
    epochs,
    steps_per_epoch,
    callbacks=(),
    deterministic=True,
    **fit_options,
):
    """``model.fit`` from the latest checkpoint in `directory`, checkpointing every epoch.

    Args:
      model: a compiled Keras model.
      batches: ``initial_epoch -> dataset`` of the batches of epochs initial_epoch, ...,
        epochs - 1 (`data.training_pipeline` with ``initial_epoch``).
      directory: where the checkpoints are kept; removed after a successful fit.
      role: what is trained (e.g. 'teacher'), for error messages.
      epochs, steps_per_epoch: as for ``model.fit``.
      callbacks: the caller's Keras callbacks; the checkpoint callbacks come after them.
      deterministic: deterministic ops during the fit (`deterministic_ops`).
      **fit_options: further ``model.fit`` arguments (validation_data, verbose, ...).

    Returns:
      the history of every epoch, restored ones included (``History.history``).

    Raises:
      NonFiniteLossError: a loss, log or weight became NaN or infinite; the last
        checkpoint is left as it was.
    """
    directory = worker_directory(directory, model.distribute_strategy, copy=True)
    checkpoint = TrainingCheckpoint(model, directory)
    initial_epoch = checkpoint.restore()
    with deterministic_ops(deterministic):
        if initial_epoch < epochs:
            model.fit(
                batches(initial_epoch),
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
                callbacks=[
                    *callbacks,
                    NonFiniteLossCheck(role, directory),
                    EpochCheckpoint(checkpoint, role),
                ],
                shuffle=False,  # `batches` is shuffled by the input pipeline
                **fit_options,
            )
    checkpoint.remove()
    return checkpoint.progress.history()
