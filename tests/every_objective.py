"""Every objective of the package, ready to train a few steps on tiny data.

The shared cases of the jit and mixed-precision tests: each builds its model around a
seeded net (an MLP, or cnn_small for attention transfer) on 8x8x1 inputs, with the
callbacks that update its state (DRO multipliers), and trains on 32 examples in two
batches of 16 (one batch shape: XLA compiles a step once) whose targets hold every key
an objective reads.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tf_robust_distill import estimators, nets, objectives

NUM_CLASSES = 3
NUM_EXAMPLES = 32
BATCH_SIZE = 16
INPUT_SHAPE = (8, 8, 1)
TEACHER_DIM = 4
AT_SPATIAL_SHAPES = ((8, 8), (4, 4), (2, 2))  # cnn_small's three stages on 8x8 inputs


def _targets(num_examples, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(num_examples, dtype=np.int32) % NUM_CLASSES
    teacher = rng.dirichlet(np.ones(NUM_CLASSES), num_examples).astype(np.float32)
    k = rng.integers(1, NUM_CLASSES + 1, num_examples)
    labeled = np.arange(num_examples) % 4 == 0
    attention = rng.uniform(size=(num_examples, sum(h * w for h, w in AT_SPATIAL_SHAPES)))
    return {
        "label": labels,
        "teacher_probs": teacher,
        "weight": rng.uniform(0.2, 1.0, num_examples).astype(np.float32),
        "index": np.arange(num_examples, dtype=np.int64),
        "alpha": rng.uniform(0.5, 1.0, num_examples).astype(np.float32),
        "topk": estimators.top_k_mask(teacher, k).astype(np.float32),
        "labeled": labeled.astype(np.float32),
        "teacher_features": rng.normal(size=(num_examples, TEACHER_DIM)).astype(np.float32),
        "teacher_attention": attention.astype(np.float32),
    }


def data(num_examples=NUM_EXAMPLES, seed=0):
    """(x [n, 8, 8, 1], targets) with every class and every target key."""
    x = np.random.default_rng(seed + 100).normal(size=(num_examples, *INPUT_SHAPE))
    return x.astype(np.float32), _targets(num_examples, seed)


def dataset(num_examples=NUM_EXAMPLES, seed=0):
    return tf.data.Dataset.from_tensor_slices(data(num_examples, seed)).batch(BATCH_SIZE)


def validation():
    """The DRO multipliers' validation set: 24 examples, every class, labels and teacher_probs."""
    return dataset(24, seed=5)


def mlp():
    keras.utils.set_random_seed(1)
    return nets.get("mlp", NUM_CLASSES, INPUT_SHAPE, hidden_sizes=(8,), weight_decay=1e-3)


def cnn_small():
    keras.utils.set_random_seed(1)
    return nets.get("cnn_small", NUM_CLASSES, INPUT_SHAPE, weight_decay=1e-3)


def teacher_priors():
    return objectives.class_priors_from_probs(data()[1]["teacher_probs"])


def label_priors():
    return objectives.class_priors_from_labels(data()[1]["label"], NUM_CLASSES)


@dataclasses.dataclass(frozen=True)
class Case:
    """An objective to train: `make()` the model, the `callbacks()` that update its state."""

    make: object
    callbacks: object = list
    debiasing_weights: bool = False


def _every_two_steps():
    return [objectives.MultiplierUpdate(validation(), every_n_steps=2)]


def _every_epoch():
    return [objectives.MultiplierUpdate(validation())]


CASES = {
    "std": Case(lambda: objectives.StandardModel(mlp())),
    "std_distill": Case(lambda: objectives.StandardModel(mlp(), distill=True)),
    "kd": Case(lambda: objectives.KDModel(mlp(), alpha=0.5, temperature=4.0)),
    "bal": Case(lambda: objectives.BalancedModel(mlp(), class_priors=label_priors())),
    "rob": Case(
        lambda: objectives.RobustModel(
            mlp(),
            distill=True,
            class_priors=teacher_priors(),
            step_size=1.0,
            validation_labels="teacher",
            risk="xent",
        ),
        _every_two_steps,
    ),
    "tdf": Case(
        lambda: objectives.RobustModel(
            mlp(), class_priors=label_priors(), alpha=0.5, step_size=1.0, average_iterates=True
        ),
        _every_two_steps,
    ),
    "group_dro": Case(lambda: objectives.GroupDROModel(mlp(), distill=True, step_size=1.0)),
    "group_dro_validation": Case(
        lambda: objectives.GroupDROModel(mlp(), step_size=1.0, use_validation=True),
        _every_epoch,
    ),
    "ada_margin": Case(lambda: objectives.AdaMarginModel(mlp())),
    "ada_alpha": Case(lambda: objectives.AdaAlphaModel(mlp())),
    "weighted": Case(
        lambda: objectives.WeightedModel(mlp(), NUM_EXAMPLES, use_fidelity_weights=True),
        debiasing_weights=True,
    ),
    "slam": Case(lambda: objectives.SLaMModel(mlp(), use_fidelity_weights=True)),
    "slam_normalized": Case(lambda: objectives.SLaMModel(mlp(), normalize=True)),
    "taylor": Case(lambda: objectives.RobustLossModel(mlp(), base_loss="taylor")),
    "poly": Case(lambda: objectives.RobustLossModel(mlp(), base_loss="poly")),
    "soteacher": Case(
        lambda: objectives.SoTeacherModel(
            mlp(), 0.01, 1.0, "linear", num_train_examples=NUM_EXAMPLES
        )
    ),
    "vid": Case(lambda: objectives.VIDModel(mlp(), TEACHER_DIM, coefficient=0.5)),
    "weighted_vid": Case(
        lambda: objectives.VIDModel(mlp(), TEACHER_DIM, num_train_examples=NUM_EXAMPLES),
        debiasing_weights=True,
    ),
    "fitnets": Case(lambda: objectives.FitNetsModel(mlp(), TEACHER_DIM, beta=0.5)),
    "at": Case(lambda: objectives.AttentionTransferModel(cnn_small(), AT_SPATIAL_SHAPES, 10.0)),
}


def train(name, *, jit_compile=False, epochs=2, learning_rate=0.1):
    """(model, history) after `epochs` epochs of SGD on `dataset()` with the case's callbacks."""
    case = CASES[name]
    model = case.make()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate), metrics=["accuracy"], jit_compile=jit_compile
    )
    if case.debiasing_weights:
        model.debiasing_weights.assign_at(
            np.arange(NUM_EXAMPLES), np.linspace(0.2, 1.0, NUM_EXAMPLES)
        )
    history = model.fit(dataset(), epochs=epochs, verbose=0, callbacks=case.callbacks())
    return model, history.history


def variables(model):
    """[(name, numpy value)] of every variable of the model, weights and state (λ, buffers)."""
    return [(variable.name, np.asarray(variable)) for variable in model.weights]
