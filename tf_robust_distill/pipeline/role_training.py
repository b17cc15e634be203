"""The main job's training of a role (teacher or student) on the whole training split."""

import os

import keras

from tf_robust_distill import data
from tf_robust_distill.data.fingerprint import dataset_fingerprint
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.objectives import MultiplierUpdate
from tf_robust_distill.pipeline import checkpointing, training


def with_train_overrides(config, role):
    """`config` with ``config.train`` updated by the role's ``train_overrides``, if it has any.

    E.g. SoTeacher's ShuffleNet student at learning rate 0.01 (App. D), or its Tiny-ImageNet
    student's 10 extra epochs with one more decay (``{"epochs": 100, "decay_epochs":
    (30, 60, 90)}``). A key that is not a ``train`` field raises a KeyError.
    """
    overrides = config[role].get("train_overrides")
    if not overrides:
        return config
    return with_overrides(config, {f"train.{key}": value for key, value in overrides.items()})


def train_role(
    role, config, context, workdir, *, derived, arrays=None, seed=None, online_teacher=None
):
    """Build the ``config[role]`` objective and fit it on the training split, resumably.

    The role's ``train_overrides`` replace fields of ``config.train`` (`with_train_overrides`).

    The validation split carries the same per-example arrays; objectives with DRO
    multipliers update them on it (`MultiplierUpdate`, every ``dro_update_every`` steps
    or every epoch). The checkpoints live in ``workdir/checkpoints/<role>-<hash of the
    config and seed>``; TensorBoard logs in ``workdir/tensorboard/<role>``.

    Args:
      role: "teacher" or "student" (the config section and the registry role).
      derived: the job's derived arguments, {name: function of no argument}.
      arrays: {"train": {...}, "val": {...}}: per-example numpy arrays added to the
        targets of that split (e.g. ``teacher_probs``), aligned with it by position.
      seed: seed of the data order and augmentation (default ``config.seed``).
      online_teacher: an `OnlineTeacher` run in every step, or None (cached targets).

    Returns:
      the trained model.
    """
    arrays = arrays or {}
    config = with_train_overrides(config, role)
    section, splits = config[role], context.splits
    model = training.build_model(
        config, context, role, section, train_size=len(splits.train_labels), derived=derived
    )
    model.attach_teacher(online_teacher)
    validation = data.evaluation_pipeline(
        splits.val, config.eval.batch_size, per_example=arrays.get("val")
    )
    callbacks = [keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard", role))]
    if getattr(model, "uses_validation_multipliers", False):
        callbacks.insert(0, MultiplierUpdate(validation, section.dro_update_every))
    # Keyed by the data too: a checkpoint of a run on other data is never resumed.
    description = {
        "config": checkpointing.run_settings(config),
        "seed": seed,
        "data": dataset_fingerprint(splits.train),
    }
    training.fit(
        model,
        config,
        splits.train,
        epochs=config.train.epochs,
        seed=config.seed if seed is None else seed,
        directory=checkpointing.checkpoint_directory(workdir, role, description),
        name=role,
        per_example=arrays.get("train"),
        validation_data=validation,
        callbacks=callbacks,
    )
    return model
