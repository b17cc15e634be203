"""The compared models: plain Keras and each objective around the same fresh net."""

import keras

from experiments.benchmark.objective_table import OBJECTIVES, derived_arguments
from experiments.benchmark.settings import IMAGE_SHAPE, NUM_CLASSES
from experiments.benchmark.timing import warm_up
from tf_robust_distill import nets
from tf_robust_distill.objectives import registry


def optimizer():
    return keras.optimizers.SGD(0.01, momentum=0.9)


def keras_baseline(net_name, jit_compile):
    """The net itself compiled with sparse categorical cross-entropy: plain Keras."""
    model = nets.get(net_name, NUM_CLASSES, IMAGE_SHAPE)
    model.compile(
        optimizer=optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def objective_model(name, net_name, batches, jit_compile):
    """The objective `name` around a fresh `net_name`, compiled like the baseline."""
    role, objective_kw = OBJECTIVES[name]
    model = registry.build(
        name,
        nets.get(net_name, NUM_CLASSES, IMAGE_SHAPE),
        role=role,
        derived=derived_arguments(batches),
        **objective_kw,
    )
    model.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=jit_compile)
    return model


def objective_dataset(model, batches):
    """The batches with the label and every target `model` reads."""
    return batches.with_targets(("label", *model.required_targets))


def warmed_objective(name, net_name, batches, jit_compile=False):
    """(model, dataset) of the objective `name`, its train function traced."""
    model = objective_model(name, net_name, batches, jit_compile)
    return warm_up(model, objective_dataset(model, batches))
