"""Every objective of the package, ready to train a few steps on tiny data.

The shared cases of the jit, mixed-precision and save/load tests: each builds a registered
objective (`registry.build`, with the derived arguments a job would supply) around a
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
from tf_robust_distill.objectives import registry

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


def derived_arguments(role):
    """The derived arguments a job would supply on `dataset()` for `role`."""
    teacher = role == registry.TEACHER
    return {
        "class_priors": label_priors() if teacher else teacher_priors(),
        "num_train_examples": NUM_EXAMPLES,
        "validation_labels": "one_hot" if teacher else "teacher",
        "temperature": 4.0,
        "teacher_feature_dim": TEACHER_DIM,
        "teacher_spatial_shapes": AT_SPATIAL_SHAPES,
    }


def _every_two_steps():
    return [objectives.MultiplierUpdate(validation(), every_n_steps=2)]


def _every_epoch():
    return [objectives.MultiplierUpdate(validation())]


@dataclasses.dataclass(frozen=True)
class Case:
    """A registered objective to train: its name, role and options, the net it wraps and
    the `callbacks()` that update its state."""

    name: str
    role: str
    objective_kw: dict = dataclasses.field(default_factory=dict)
    net: object = mlp
    callbacks: object = list
    debiasing_weights: bool = False

    def make(self):
        return registry.build(
            self.name,
            self.net(),
            role=self.role,
            derived=derived_arguments(self.role),
            **self.objective_kw,
        )


TEACHER, STUDENT, UNLABELED = registry.TEACHER, registry.STUDENT, registry.UNLABELED_STUDENT
CASES = {
    "std": Case("std", TEACHER),
    "std_distill": Case("std", STUDENT),
    "kd": Case("kd", STUDENT, {"alpha": 0.5}),
    "bal": Case("bal", TEACHER),
    "rob": Case("rob", STUDENT, {"step_size": 1.0, "risk": "xent"}, callbacks=_every_two_steps),
    "tdf": Case(
        "tdf",
        TEACHER,
        {"alpha": 0.5, "step_size": 1.0, "average_iterates": True},
        callbacks=_every_two_steps,
    ),
    "group_dro": Case("group_dro", STUDENT, {"step_size": 1.0}),
    "group_dro_validation": Case(
        "group_dro", TEACHER, {"step_size": 1.0, "use_validation": True}, callbacks=_every_epoch
    ),
    "ada_margin": Case("ada_margin", STUDENT),
    "ada_alpha": Case("ada_alpha", STUDENT),
    "weighted": Case("weighted_fidelity", UNLABELED, debiasing_weights=True),
    "slam": Case("slam_fidelity", UNLABELED),
    "slam_normalized": Case("slam", UNLABELED, {"normalize": True}),
    "robust_slam": Case("robust_slam", UNLABELED, {"step_size": 1.0}, callbacks=_every_two_steps),
    "robust_unlabeled": Case("robust", UNLABELED, {"step_size": 1.0}, callbacks=_every_two_steps),
    "weighted_robust_slam": Case(
        "weighted_robust_slam",
        UNLABELED,
        {"step_size": 1.0},
        callbacks=_every_two_steps,
        debiasing_weights=True,
    ),
    "taylor": Case("taylor_ce", UNLABELED),
    "poly": Case("poly", UNLABELED),
    "soteacher": Case(
        "soteacher", TEACHER, {"lipschitz_weight": 0.01, "consistency_weight_max": 1.0}
    ),
    "vid": Case("vid", UNLABELED, {"coefficient": 0.5}),
    "weighted_vid": Case("weighted_vid", UNLABELED, debiasing_weights=True),
    "fitnets": Case("fitnets", STUDENT, {"beta": 0.5}),
    "at": Case("at", STUDENT, {"beta": 10.0}, net=cnn_small),
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
