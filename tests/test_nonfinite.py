"""A non-finite loss stops training with a clear message and overwrites nothing good.

`checkpointing.fit_resumably` raises `NonFiniteLossError` naming the role, the epoch
and the optimizer step; the checkpoint of the last finished epoch stays as it was
(same files, same bytes) and restores that epoch's state. The main job then writes
no model and no results, and leaves an earlier run's files in its workdir untouched.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import resume_worker
from support.tiny import NUM_CLASSES, tiny_net

from tf_robust_distill import data
from tf_robust_distill.objectives import StandardModel
from tf_robust_distill.pipeline import checkpointing

EPOCHS, BATCH_SIZE, SIZE = 3, 8, 40
STEPS = SIZE // BATCH_SIZE  # optimizer steps per epoch
BAD_EPOCH = 1  # 0-based: the second epoch goes wrong
CHECKPOINT_FILES = ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
MESSAGE_END = (
    "training stopped. The checkpoint of the last finished epoch (in {directory}, if any) is "
    "kept and no model or results were written. Try a smaller train.learning_rate"
)


def train_dataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SIZE, 5)).astype(np.float32)
    labels = (np.arange(SIZE) % NUM_CLASSES).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((x, labels))


def teacher_probs():
    probs = np.full((SIZE, NUM_CLASSES), 0.1, np.float32)
    probs[np.arange(SIZE), np.arange(SIZE) % NUM_CLASSES] = 0.8
    return {"teacher_probs": probs}


def batches_with_nan_targets_from(bad_epoch):
    """``initial_epoch -> batches`` whose teacher probabilities are NaN from epoch
    `bad_epoch` on (None: never), as from a corrupt label cache."""

    def batches(initial_epoch):
        clean = data.training_pipeline(
            train_dataset(),
            BATCH_SIZE,
            seed=2,
            per_example=teacher_probs(),
            epochs=EPOCHS,
            initial_epoch=initial_epoch,
        )
        if bad_epoch is None:
            return clean

        def poison(step, batch):
            x, targets = batch
            epoch = initial_epoch + step // STEPS
            nan_or_zero = tf.where(epoch >= bad_epoch, np.float32(np.nan), np.float32(0.0))
            return x, {**targets, "teacher_probs": targets["teacher_probs"] + nan_or_zero}

        return clean.enumerate().map(poison)

    return batches


def compiled_model():
    model = StandardModel(tiny_net(), distill=True)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    return model


def files_in(directory):
    """File name -> bytes of the files in `directory` ({} if it does not exist)."""
    if not os.path.isdir(directory):
        return {}
    files = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as handle:
            files[name] = handle.read()
    return files


def state(model):
    """The model's weights and the optimizer's variables (step count and momenta)."""
    return [np.array(variable) for variable in [*model.weights, *model.optimizer.variables]]


class CheckpointSnapshot(keras.callbacks.Callback):
    """Records the logs of epoch `epoch` and, once it is checkpointed, the checkpoint's
    files and the training state when the next epoch begins."""

    def __init__(self, directory, epoch):
        super().__init__()
        self.directory, self.epoch = directory, epoch
        self.logs = self.files = self.state = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.logs = {name: float(value) for name, value in logs.items()}

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch + 1:
            self.files, self.state = files_in(self.directory), state(self.model)


class PoisonWeights(keras.callbacks.Callback):
    """Sets every weight to NaN in epoch `epoch`: after its last step (before validation)
    or at its end (after validation)."""

    def __init__(self, epoch, when):
        super().__init__()
        self.bad_epoch, self.when, self.epoch = epoch, when, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.when == "after_last_step" and (self.epoch, batch) == (self.bad_epoch, STEPS - 1):
            self.poison()

    def on_epoch_end(self, epoch, logs=None):
        if self.when == "at_epoch_end" and epoch == self.bad_epoch:
            self.poison()

    def poison(self):
        for variable in self.model.trainable_variables:
            variable.assign(tf.fill(variable.shape, np.float32(np.nan)))


@pytest.mark.parametrize(
    "bad_targets, poison_weights, what, step",
    [
        # NaN targets: the first step of epoch 2 has a NaN loss.
        (True, None, "the training loss is nan", STEPS + 1),
        # NaN weights after epoch 2's last step: its training losses were finite, the
        # validation loss is not.
        (False, "after_last_step", "val_loss not finite", 2 * STEPS),
        # NaN weights after epoch 2's validation: every log is finite, the weights not.
        (False, "at_epoch_end", "the weights not finite", 2 * STEPS),
    ],
)
def test_fit_stops_in_epoch_two_and_keeps_the_checkpoint_of_epoch_one(
    tmp_path, bad_targets, poison_weights, what, step
):
    directory = str(tmp_path / "checkpoints" / "student")
    snapshot = CheckpointSnapshot(directory, BAD_EPOCH - 1)
    callbacks = [snapshot] + ([PoisonWeights(BAD_EPOCH, poison_weights)] if poison_weights else [])
    validation = data.evaluation_pipeline(train_dataset(), 16, per_example=teacher_probs())

    def fit(model, batches, callbacks=()):
        return checkpointing.fit_resumably(
            model,
            batches,
            directory,
            role="student",
            epochs=EPOCHS,
            steps_per_epoch=STEPS,
            callbacks=callbacks,
            validation_data=validation,
            verbose=0,
        )

    model = compiled_model()
    with pytest.raises(checkpointing.NonFiniteLossError) as raised:
        fit(model, batches_with_nan_targets_from(BAD_EPOCH if bad_targets else None), callbacks)

    assert str(raised.value).startswith(
        f"student: {what} in epoch {BAD_EPOCH + 1}/{EPOCHS}, at optimizer step {step}; "
        + MESSAGE_END.format(directory=directory)
    )
    assert int(model.optimizer.iterations) == step
    # The checkpoint of epoch 1, byte for byte as it was when epoch 2 began.
    assert sorted(snapshot.files) == CHECKPOINT_FILES
    assert files_in(directory) == snapshot.files
    assert all(np.isfinite(value).all() for value in snapshot.state)

    restored = compiled_model()
    checkpoint = checkpointing.TrainingCheckpoint(restored, directory)
    assert checkpoint.restore() == BAD_EPOCH
    assert checkpoint.progress.logs == [snapshot.logs]
    for value, expected in zip(state(restored), snapshot.state, strict=True):
        np.testing.assert_array_equal(value, expected)
    assert int(restored.optimizer.iterations) == STEPS

    # Clean data again: training resumes from that checkpoint and finishes.
    history = fit(compiled_model(), batches_with_nan_targets_from(None))
    assert len(history["loss"]) == EPOCHS and history["loss"][0] == snapshot.logs["loss"]
    assert np.isfinite(history["loss"]).all()
    assert not os.path.exists(directory)


def test_non_finite_loss_in_the_first_epoch_leaves_no_checkpoint(tmp_path):
    directory = str(tmp_path / "checkpoints" / "teacher")
    with pytest.raises(checkpointing.NonFiniteLossError) as raised:
        checkpointing.fit_resumably(
            compiled_model(),
            batches_with_nan_targets_from(0),
            directory,
            role="teacher",
            epochs=EPOCHS,
            steps_per_epoch=STEPS,
            verbose=0,
        )
    assert str(raised.value).startswith(
        f"teacher: the training loss is nan in epoch 1/{EPOCHS}, at optimizer step 1; "
        + MESSAGE_END.format(directory=directory)
    )
    assert files_in(directory) == {}


def workdir_files(workdir):
    """Relative path -> bytes of a workdir's files, but TensorBoard's (appended by every run)."""
    files = {}
    for root, directories, names in os.walk(workdir):
        directories[:] = [name for name in directories if name != "tensorboard"]
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, workdir)] = handle.read()
    return files


def exploding_learning_rate(config):
    """The learning rate times 1e30 after the first epoch: the weights blow up to NaN."""
    config.train.decay_epochs = (1,)
    config.train.decay_factor = 1e30
    return config


@pytest.mark.slow  # a whole job
def test_main_job_with_a_teacher_gone_nan_writes_no_model_and_no_results(tmp_path):
    """The teacher's loss is NaN in epoch 2: no teacher, no student, no results.json."""
    workdir = tmp_path / "run"
    config = exploding_learning_rate(resume_worker.main_config())
    with pytest.raises(checkpointing.NonFiniteLossError) as raised:
        resume_worker.run_main(str(workdir), config)

    (directory,) = os.listdir(workdir / "checkpoints")
    directory = str(workdir / "checkpoints" / directory)
    assert os.path.basename(directory).startswith("teacher-")
    # 17 steps an epoch; epoch 2's first step (18) blows the weights up, step 19 is NaN.
    assert str(raised.value).startswith(
        "teacher: the training loss is nan in epoch 2/3, at optimizer step 19; "
        + MESSAGE_END.format(directory=directory)
    )
    assert sorted(os.listdir(workdir)) == ["checkpoints", "tensorboard"]
    assert sorted(files_in(directory)) == CHECKPOINT_FILES
    restored = checkpointing.TrainingProgress()
    restored.deserialize(
        tf.train.load_checkpoint(directory).get_tensor("progress/.ATTRIBUTES/py_state")
    )
    assert restored.epochs == 1 and np.isfinite(restored.history()["loss"]).all()


@pytest.mark.slow  # a whole job
def test_main_job_gone_nan_leaves_an_earlier_run_untouched(tmp_path):
    """After a finished run, a student and then a teacher whose loss becomes NaN: every
    file of the finished run (results.json, teacher.keras, student.keras, ...) stays."""
    workdir = str(tmp_path / "run")
    resume_worker.run_main(workdir)
    finished = workdir_files(workdir)
    assert {"results.json", "results.md", "teacher.keras", "student.keras"} <= set(finished)

    # The stored teacher is reused; the student's multipliers overflow at its first step.
    config = resume_worker.main_config()
    config.student.objective_kw.step_size = 1e30
    with pytest.raises(checkpointing.NonFiniteLossError) as raised:
        resume_worker.run_main(workdir, config)
    assert str(raised.value).startswith(
        "student: the training loss is nan in epoch 1/3, at optimizer step 1; training stopped."
    )
    assert workdir_files(workdir) == finished
    assert not os.path.exists(os.path.join(workdir, "checkpoints"))

    # Another train section retrains the teacher, whose loss is NaN in epoch 2.
    with pytest.raises(checkpointing.NonFiniteLossError, match=r"^teacher: .* epoch 2/3, "):
        resume_worker.run_main(workdir, exploding_learning_rate(resume_worker.main_config()))
    teacher_checkpoint = {
        name: content
        for name, content in workdir_files(workdir).items()
        if name.startswith("checkpoints")
    }
    assert sorted(os.path.basename(name) for name in teacher_checkpoint) == CHECKPOINT_FILES
    assert {
        name: content
        for name, content in workdir_files(workdir).items()
        if name not in teacher_checkpoint
    } == finished
