"""The objective registry: names, roles, options, derived and fixed arguments, and an
objective added from outside the package, trained by the main job (docs/EXTENDING.md)."""

import json

import every_objective
import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import tiny_net

from configs import distill as distill_config
from tf_robust_distill import losses, pipeline
from tf_robust_distill.objectives import (
    DistillationModel,
    RobustModel,
    SoTeacherModel,
    StandardModel,
    registry,
)

PRIORS = [0.5, 0.25, 0.25]


def test_roles_name_the_objectives_each_job_accepts():
    assert {"std", "bal", "rob", "tdf", "group_dro", "soteacher"} <= set(registry.names("teacher"))
    assert "kd" not in registry.names("teacher")
    assert {"kd", "fitnets", "at", "ada_margin"} <= set(registry.names("student"))
    assert {"slam", "weighted", "vid", "vanilla"} <= set(registry.names("unlabeled_student"))
    assert not set(registry.names("student")) & {"slam", "weighted", "vanilla"}
    for name in registry.names():
        assert set(registry.get(name).roles) <= set(registry.ROLES)


def test_the_role_sets_distill_and_fixed_arguments_override_defaults():
    assert not registry.build("std", tiny_net(), role="teacher").distill
    assert registry.build("std", tiny_net(), role="student").distill
    assert registry.build(
        "vanilla", tiny_net(), role="unlabeled_student", derived={"temperature": 2.0}
    ).distill
    derived = {"class_priors": PRIORS, "validation_labels": "one_hot"}
    rob = registry.build("rob", tiny_net(), role="teacher", derived=derived)
    tdf = registry.build("tdf", tiny_net(), role="teacher", derived=derived, alpha=0.25)
    assert isinstance(rob, RobustModel) and rob.alpha == 1.0 and tdf.alpha == 0.25
    no_lr = registry.build(
        "soteacher_no_lr",
        tiny_net(),
        role="teacher",
        derived={"num_train_examples": 12},
        consistency_weight_max=2.0,
    )
    assert isinstance(no_lr, SoTeacherModel) and no_lr.lipschitz_weight == 0.0


def test_options_are_the_constructor_arguments_a_config_may_set():
    assert registry.get("kd").options == ("alpha",)
    assert registry.get("rob").options == (
        "step_size",
        "risk",
        "average_iterates",
        "multiplier_update_required",
    )
    assert "alpha" in registry.get("tdf").options
    assert registry.get("slam").options == (
        "normalize",
        "degree",
        "epsilon",
        "use_fidelity_weights",
    )
    # Arguments a subclass fills itself are not options (FitNets' layer names).
    assert registry.get("fitnets").options == ("beta", "alpha")
    assert registry.get("tdf").settings({"alpha": 0.5})["step_size"] == 0.1


@pytest.mark.parametrize(
    "name, role, kwargs, match",
    [
        ("robust", "student", {}, "unknown student objective 'robust'; choose one of ada_alpha"),
        ("kd", "teacher", {}, "unknown teacher objective 'kd'; choose one of bal, group_dro"),
        ("slam", "student", {}, "unknown student objective 'slam'"),
        ("kd", "student", {"beta": 1.0}, "student objective 'kd' takes no option 'beta'; its"),
        ("rob", "student", {"alpha": 0.5}, "takes no option 'alpha'"),  # fixed by the name
        ("bal", "teacher", {}, r"needs the derived argument\(s\) \['class_priors'\]"),
    ],
)
def test_bad_names_options_and_missing_derived_arguments(name, role, kwargs, match):
    with pytest.raises(ValueError, match=match):
        registry.build(name, tiny_net(), role=role, derived={"temperature": 4.0}, **kwargs)


def test_registration_refuses_unknown_roles_arguments_and_taken_names():
    with pytest.raises(ValueError, match="roles of 'x' must be among"):
        registry.register("x", roles=("pupil",))
    with pytest.raises(ValueError, match=r"takes no argument\(s\) \['beta'\]"):
        registry.register("x", roles=("student",), beta=1.0)(StandardModel)
    with pytest.raises(ValueError, match="'std' is already registered by StandardModel"):
        registry.register("std", roles=("student",))(RobustModel)


@keras.saving.register_keras_serializable(package="tests")
class LabelMixModel(DistillationModel):
    """A toy student: cross-entropy against mix · one-hot label + (1 − mix) · teacher probs."""

    required_targets = ("label", "teacher_probs")

    def __init__(self, backbone, mix=0.5, **kwargs):
        super().__init__(backbone, **kwargs)
        self.mix = float(mix)

    def per_example_loss(self, targets, logits):
        one_hot = tf.one_hot(tf.cast(targets["label"], tf.int32), tf.shape(logits)[-1])
        target = self.mix * one_hot + (1.0 - self.mix) * targets["teacher_probs"]
        return losses.softmax_cross_entropy(target, logits)

    def get_config(self):
        return {**super().get_config(), "mix": self.mix}


@pytest.fixture
def label_mix():
    registry.register("label_mix", roles=("student",))(LabelMixModel)
    yield
    registry.unregister("label_mix")


def test_the_toy_loss_is_its_formula(label_mix):
    model = registry.build("label_mix", tiny_net(), role="student", mix=0.25)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    probs = rng.dirichlet(np.ones(3), 6).astype(np.float32)
    labels = np.arange(6) % 3
    target = 0.25 * np.eye(3)[labels] + 0.75 * probs
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(target * log_softmax).sum(axis=1)
    loss = model.per_example_loss({"label": labels, "teacher_probs": probs}, logits)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_an_objective_registered_outside_the_package_runs_through_the_main_job(label_mix, tmp_path):
    config = distill_config.get_config("demo")
    config.dataset.imbalance_ratio = None
    config.student.objective = "label_mix"
    config.student.objective_kw = {"mix": 0.25}
    config.train.epochs = 20
    config.verbose = 0
    job = pipeline.run(config, str(tmp_path))
    assert job.results["student"]["test"]["accuracy"] > 0.85
    student = keras.models.load_model(tmp_path / "student.keras")
    assert isinstance(student, LabelMixModel) and student.mix == 0.25
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["config"]["student"]["objective_kw"] == {"mix": 0.25}


def test_the_shared_cases_cover_every_registered_class():
    """tests/every_objective.py (jit, mixed precision, save/load) trains every class."""
    covered = {registry.get(case.name).model_class for case in every_objective.CASES.values()}
    assert {registry.get(name).model_class for name in registry.names()} <= covered
