"""The main job's training of a role (teacher or student) on the whole training split."""

import os

import keras

from tf_robust_distill import data
from tf_robust_distill.objectives import MultiplierUpdate
from tf_robust_distill.pipeline import checkpointing, training


def train_role(role, config, context, workdir, *, derived, arrays=None, seed=None):
    """Build the ``config[role]`` objective and fit it on the training split, resumably.

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

    Returns:
      the trained model.
    """
    arrays = arrays or {}
    section, splits = config[role], context.splits
    model = training.build_model(
        config, context, role, section, train_size=len(splits.train_labels), derived=derived
    )
    validation = data.evaluation_pipeline(
        splits.val, config.eval.batch_size, per_example=arrays.get("val")
    )
    callbacks = [keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard", role))]
    if getattr(model, "uses_validation_multipliers", False):
        callbacks.insert(0, MultiplierUpdate(validation, section.dro_update_every))
    description = {"config": checkpointing.run_settings(config), "seed": seed}
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
