"""The spine of every job: build the net, build the objective from the registry, compile in
the strategy's scope, fit resumably.

Both jobs (`job`: teacher -> student on one training set; `unlabeled`: a labeled set,
then a student on labeled and teacher-labeled examples) train every model through
`build_model` and `fit`. A job hands `build_model` the derived arguments an objective
may need (class priors, sizes, the teacher's feature widths) as functions, and only
those the objective declares in the registry are computed.
"""

from tf_robust_distill import data, nets
from tf_robust_distill.data.selection import num_examples
from tf_robust_distill.nets.weight_decay import decay_every_weight
from tf_robust_distill.objectives import registry
from tf_robust_distill.optim import make_optimizer, steps_per_epoch
from tf_robust_distill.pipeline import checkpointing


def build_backbone(section, context, checkpoint=None):
    """A new net of the role section ``section`` (logits), with `checkpoint`'s weights if given.

    ``section.weight_decay`` decays the kernels; with ``section.decay_all_weights`` every
    parameter (`nets.weight_decay`). Call inside ``context.strategy.scope()``.
    """
    splits = context.splits
    backbone = nets.get(
        section.net,
        splits.num_classes,
        splits.input_shape,
        weight_decay=section.weight_decay,
        **section.net_options.to_dict(),
    )
    if section.get("decay_all_weights", False):
        decay_every_weight(backbone, section.weight_decay)
    if checkpoint is not None:
        backbone.load_weights(checkpoint)
    return backbone


def build_model(config, context, role, section, *, train_size, derived=None, checkpoint=None):
    """The compiled objective ``section.objective`` for `role`, built in the strategy's scope.

    Args:
      role: the registry role ("teacher", "student", "unlabeled_student").
      section: the role's config section (net, net_options, weight_decay, objective,
        objective_kw).
      train_size: the size of the training set (for the learning-rate schedule).
      derived: {argument: function of no argument} for the objective's derived arguments;
        only those the objective declares are called.
      checkpoint: weights to start the net from.
    """
    spec = registry.get(section.objective, role)
    derived = derived or {}
    with context.strategy.scope():
        model = spec.build(
            build_backbone(section, context, checkpoint),
            role=role,
            derived={key: derived[key]() for key in spec.derived if key in derived},
            **section.objective_kw.to_dict(),
        )
        model.compile(
            optimizer=make_optimizer(config.train, steps_per_epoch(config.train, train_size)),
            metrics=["accuracy"],
            jit_compile=checkpointing.jit_compile_for(config.deterministic),
        )
    return model


def fit(
    model,
    config,
    dataset,
    *,
    epochs,
    seed,
    directory,
    name,
    per_example=None,
    validation_data=None,
    callbacks=(),
):
    """Fit `model` on the unbatched (x, label) `dataset`, resumably (`checkpointing`).

    Args:
      epochs, seed: the number of epochs, and the seed of the data order and augmentation.
      directory: the checkpoint directory of this training run.
      name: what is trained, for error messages (e.g. "teacher").
      per_example: {key: array aligned with `dataset`} added to the targets.
      validation_data: Keras's validation data (batched).
      callbacks: more Keras callbacks.

    Returns:
      the history of every epoch, restored ones included (``History.history``).

    Raises:
      checkpointing.NonFiniteLossError: the loss became NaN or infinite.
    """
    train = config.train

    def batches(initial_epoch):
        return data.training_pipeline(
            dataset,
            train.batch_size,
            seed=seed,
            per_example=per_example,
            augmentation=config.dataset.augment,
            drop_remainder=train.drop_remainder,
            epochs=epochs,
            initial_epoch=initial_epoch,
        )

    return checkpointing.fit_resumably(
        model,
        batches,
        directory,
        role=name,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch(train, num_examples(dataset)),
        callbacks=callbacks,
        deterministic=config.deterministic,
        validation_data=validation_data,
        verbose=config.verbose,
    )
