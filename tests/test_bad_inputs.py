"""The README's table of bad inputs, one case per row.

Each row of the README section "Bad input: the errors you see" reads
`what the user did | where | error`, the error as `Type: part of the message`. Every
row has a case below, registered under the row's first cell, that makes the mistake
the way a user would and must raise that type with that message; the table and the
cases are checked against each other, so neither can change alone.
"""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from ml_collections import config_flags
from support.tiny import tiny_net

import tf_robust_distill as trd
from tf_robust_distill import pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Bad input: the errors you see"
ERROR_CELL = re.compile(r"`(?P<type>\w+): (?P<message>.+)`")
CASES = {}


def readme_rows():
    """{what the user did: (error type name, message)} from the README section's table."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("what you did", "---"):
            continue
        assert len(cells) == 3, f"a row needs 3 cells: {line}"
        match = ERROR_CELL.fullmatch(cells[2])
        assert match, f"the error cell must read `Type: message`: {line}"
        assert cells[0] not in rows, f"two rows read {cells[0]}"
        rows[cells[0]] = (match["type"], match["message"])
    return rows


ROWS = readme_rows()


def case(what):
    """Register the decorated function as the case of the README row `what`."""

    def register(trigger):
        CASES[what] = trigger
        return trigger

    return register


def run_job(tmp_path, *overrides, config="configs/distill.py:demo"):
    """`python -m experiments.distill --config=CONFIG --workdir=tmp_path/run OVERRIDES`,
    in this process: the flags parsed as absl parses them, then the job it runs.

    One epoch and no logs, so that a check that went missing costs seconds.
    """
    argv = [
        "experiments.distill",
        f"--config={os.path.join(ROOT, config)}",
        f"--workdir={tmp_path / 'run'}",
        "--config.train.epochs=1",
        "--config.verbose=0",
        *overrides,
    ]
    flag_values = flags.FlagValues()
    parsed = config_flags.DEFINE_config_file(
        "config", flag_values=flag_values, lock_config=True, sys_argv=argv
    )
    workdir = flags.DEFINE_string("workdir", None, "", flag_values=flag_values)
    flag_values(argv)
    pipeline.run(parsed.value, workdir.value)


def examples():
    """12 examples (x [5], label) for the 3 classes of `tiny_net`, labels 0, 1, 2, 0, ..."""
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(12) % 3))


def fit(model, batches, compile_options=None, **fit_options):
    """Compile `model` with Adam (and `compile_options`), fit it one epoch on `batches`."""
    model.compile(optimizer="adam", **(compile_options or {}))
    model.fit(batches, epochs=1, verbose=0, **fit_options)


def teacher_probs(num_examples=12):
    """Uniform teacher probabilities over 3 classes, one row per example."""
    return np.full((num_examples, 3), 1.0 / 3, np.float32)


def validation_probs():
    """Teacher probabilities [6, 3] and labels [6] of a small validation set."""
    return np.random.default_rng(1).dirichlet(np.ones(3), size=6), np.arange(6) % 3


def labels_cache(tmp_path, teacher=None):
    """A teacher-label cache of `teacher` (default `tiny_net(1)`) on `examples()`."""
    path = tmp_path / "teacher_labels.npz"
    trd.data.TeacherLabels.from_model(
        teacher or tiny_net(1), examples(), num_examples=12, cache_path=path
    )
    return path


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


# Command line and configs.


@case("`--config=configs/distill.py:huge`")
def unknown_config_variant(tmp_path):
    run_job(tmp_path, config="configs/distill.py:huge")


@case("`--config.student.temprature=3` (a misspelled field)")
def misspelled_field(tmp_path):
    run_job(tmp_path, "--config.student.temprature=3")


@case("`--config.student.objective=robust`")
def unknown_student_objective(tmp_path):
    run_job(tmp_path, "--config.student.objective=robust")


@case("`--config.teacher.objective=kd` (a student-only objective)")
def student_objective_for_the_teacher(tmp_path):
    run_job(tmp_path, "--config.teacher.objective=kd")


@case("`--config.dataset.name=mnist`")
def unknown_dataset(tmp_path):
    run_job(tmp_path, "--config.dataset.name=mnist")


@case("`--config.student.temperature=0`")
def zero_temperature(tmp_path):
    run_job(tmp_path, "--config.student.temperature=0")


@case("`--config.student.temperature=hot`")
def temperature_neither_number_nor_auto(tmp_path):
    run_job(tmp_path, "--config.student.temperature=hot")


@case("`--config.strategy=gpu`")
def unknown_strategy(tmp_path):
    run_job(tmp_path, "--config.strategy=gpu")


@case("`--config.mixed_precision=float16`")
def unknown_precision_policy(tmp_path):
    run_job(tmp_path, "--config.mixed_precision=float16")


@case("`--config.student.objective=kd --config.student.objective_kw=\"{'beta': 1}\"`")
def option_the_objective_does_not_take(tmp_path):
    run_job(tmp_path, "--config.student.objective=kd", "--config.student.objective_kw={'beta': 1}")


@case("`--config.student.objective=tdf --config.student.objective_kw=\"{'alpha': 1.5}\"`")
def tradeoff_alpha_above_one(tmp_path):
    run_job(
        tmp_path, "--config.student.objective=tdf", "--config.student.objective_kw={'alpha': 1.5}"
    )


@case("`--config.student.objective=rob --config.student.objective_kw=\"{'step_size': 0}\"`")
def zero_dro_step_size(tmp_path):
    run_job(
        tmp_path, "--config.student.objective=rob", "--config.student.objective_kw={'step_size': 0}"
    )


@case("`--config.student.objective=rob --config.student.validation_labels=soft`")
def unknown_validation_labels(tmp_path):
    run_job(tmp_path, "--config.student.objective=rob", "--config.student.validation_labels=soft")


@case("`--config.dataset.imbalance_ratio=0.5`")
def imbalance_ratio_below_one(tmp_path):
    run_job(tmp_path, "--config.dataset.imbalance_ratio=0.5")


@case("`--config.dataset.augment=crop_flip` on an `.npz` dataset of feature vectors")
def image_augmentation_on_vectors(tmp_path):
    x, y = np.zeros((30, 5), np.float32), np.arange(30) % 3
    name = save_npz(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    run_job(tmp_path, f"--config.dataset.name={name}", "--config.dataset.augment=crop_flip")


@case("`--config.train.optimizer=adagrad`")
def unknown_optimizer(tmp_path):
    run_job(tmp_path, "--config.train.optimizer=adagrad")


@case("`--config.teacher.net=resnet`")
def unknown_net(tmp_path):
    run_job(tmp_path, "--config.teacher.net=resnet")


# Datasets.


@case("an `.npz` file without `y_test`")
def npz_without_test_labels(tmp_path):
    x = np.zeros((6, 5), np.float32)
    trd.data.load(save_npz(tmp_path / "data.npz", x_train=x, y_train=np.arange(6) % 3, x_test=x))


@case("an `.npz` file whose `y_train` holds floats")
def npz_with_float_labels(tmp_path):
    x, y = np.zeros((6, 5), np.float32), np.arange(6) % 3
    path = save_npz(tmp_path / "data.npz", x_train=x, y_train=y * 1.0, x_test=x, y_test=y)
    trd.data.load(path)


@case("a text file named `data.npz`")
def npz_that_is_not_an_archive(tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("x,y\n0.1,2\n")
    trd.data.load(f"npz:{path}")


@case("an imbalance ratio that leaves a class without examples")
def long_tail_that_empties_a_class(tmp_path):
    trd.data.long_tail_counts(np.array([5, 5, 5]), imbalance_ratio=100)


@case("a Fashion-MNIST file in `data_dir` that is an HTML error page")
def fashion_mnist_file_that_is_not_idx(tmp_path):
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if name.endswith("images") else "idx1"
        (tmp_path / f"{name}-{kind}-ubyte").write_bytes(b"<html>404 Not Found</html>")
    trd.data.load("fashion_mnist", data_dir=str(tmp_path))


@case("per-example teacher probabilities with fewer rows than the dataset")
def per_example_array_of_another_length(tmp_path):
    trd.data.training_pipeline(
        examples(), 4, seed=0, per_example={"teacher_probs": teacher_probs(num_examples=10)}
    )


@case("a validation set without class 2, one-hot validation risks")
def validation_set_missing_a_class(tmp_path):
    without_class_2 = examples().filter(lambda x, label: label < 2)
    without_class_2 = without_class_2.apply(tf.data.experimental.assert_cardinality(8))
    model = trd.RobustModel(tiny_net(), class_priors=[1 / 3] * 3)
    update = trd.objectives.MultiplierUpdate(trd.data.evaluation_pipeline(without_class_2, 4))
    fit(model, trd.data.training_pipeline(examples(), 4, seed=0), callbacks=[update])


# Teacher-label caches.


@case("a cache written by another teacher")
def cache_of_another_teacher(tmp_path):
    path = labels_cache(tmp_path, tiny_net(seed=2))
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), num_examples=12, cache_path=path)


@case("a cache of another dataset size")
def cache_of_another_size(tmp_path):
    path = labels_cache(tmp_path)
    trd.data.TeacherLabels.from_model(
        tiny_net(1), examples().take(10), num_examples=10, cache_path=path
    )


@case("a cache of another number of classes")
def cache_of_another_class_count(tmp_path):
    trd.data.TeacherLabels.load(labels_cache(tmp_path), num_classes=4)


@case("a cache holding a NaN logit")
def cache_with_nan(tmp_path):
    path = labels_cache(tmp_path)
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["logits"][3, 1] = np.nan
    np.savez(path, **arrays)
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), num_examples=12, cache_path=path)


@case("a truncated cache file")
def truncated_cache(tmp_path):
    path = labels_cache(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), num_examples=12, cache_path=path)


@case("a cache file without `logits`")
def cache_without_logits(tmp_path):
    path = tmp_path / "teacher_labels.npz"
    np.savez(path, probs=teacher_probs(), fingerprint=np.array("0" * 64))
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), num_examples=12, cache_path=path)


# Objectives.


@case("`student.fit` on data without `teacher_probs`")
def student_without_teacher_probs(tmp_path):
    fit(
        trd.StandardModel(tiny_net(), distill=True),
        trd.data.training_pipeline(examples(), 4, seed=0),
    )


@case("`model.compile(loss=...)`")
def compiled_loss(tmp_path):
    batches = trd.data.training_pipeline(examples(), 4, seed=0)
    fit(trd.StandardModel(tiny_net()), batches, compile_options={"loss": "mse"})


@case("`model.fit(x, y)` with arrays")
def fit_on_arrays(tmp_path):
    x, labels = next(iter(examples().batch(12)))
    model = trd.StandardModel(tiny_net())
    model.compile(optimizer="adam")
    model.fit(x.numpy(), labels.numpy(), epochs=1, verbose=0)


@case("class priors that do not sum to 1")
def priors_not_summing_to_one(tmp_path):
    trd.BalancedModel(tiny_net(), class_priors=[0.5, 0.6, 0.1])


@case("`RobustModel(validation_labels='teacher')` for a teacher")
def teacher_validated_by_a_teacher(tmp_path):
    trd.RobustModel(tiny_net(), class_priors=[1 / 3] * 3, validation_labels="teacher")


@case("a student validated with teacher labels on a validation set without them")
def teacher_validation_without_teacher_probs(tmp_path):
    model = trd.RobustModel(
        tiny_net(), distill=True, class_priors=[1 / 3] * 3, validation_labels="teacher"
    )
    update = trd.objectives.MultiplierUpdate(trd.data.evaluation_pipeline(examples(), 4))
    batches = trd.data.training_pipeline(
        examples(), 4, seed=0, per_example={"teacher_probs": teacher_probs()}
    )
    fit(model, batches, callbacks=[update])


@case("SLaM targets with `alpha` = 1.5")
def slam_alpha_above_one(tmp_path):
    trd.losses.check_mixing_inputs(
        np.full(12, 1.5, np.float32), np.ones((12, 3), np.float32), labeled=np.zeros(12)
    )


# Estimators and metrics.


@case("`TeacherAccuracyEstimator(lower_bound=1.5, ...)`")
def lower_bound_above_one(tmp_path):
    trd.estimators.TeacherAccuracyEstimator(lower_bound=1.5, threshold=0.9)


@case("`TeacherAccuracyEstimator(..., threshold=0)`")
def zero_threshold(tmp_path):
    trd.estimators.TeacherAccuracyEstimator(lower_bound=0.1, threshold=0)


@case("SLaM `fixed_k=5` on 3 classes")
def fixed_k_above_class_count(tmp_path):
    estimator = trd.estimators.TeacherAccuracyEstimator(lower_bound=0.1, threshold=0.9, fixed_k=5)
    estimator.fit(*validation_probs())


@case("`top_k_mask(probs, 5)` on 3 classes")
def top_k_above_class_count(tmp_path):
    trd.estimators.top_k_mask(validation_probs()[0], 5)


@case("`alpha(p)` before `fit`")
def alpha_before_fit(tmp_path):
    trd.estimators.TeacherAccuracyEstimator(lower_bound=0.1, threshold=0.9).alpha(
        validation_probs()[0]
    )


@case("`debiasing_weights(..., k=4)` with 6 validation examples")
def validation_set_smaller_than_2k(tmp_path):
    probs, labels = validation_probs()
    trd.estimators.debiasing_weights(probs, probs, labels, probs, probs, k=4)


@case("`debiasing_weights` given teacher logits")
def debiasing_weights_given_logits(tmp_path):
    probs, labels = validation_probs()
    trd.estimators.debiasing_weights(np.log(probs), probs, labels, probs, probs)


@case("`expected_calibration_error` given logits")
def calibration_error_given_logits(tmp_path):
    probs, labels = validation_probs()
    trd.metrics.expected_calibration_error(labels, np.log(probs))


def test_every_readme_row_has_a_case_and_every_case_a_row():
    assert len(ROWS) >= 20
    assert sorted(set(ROWS) - set(CASES)) == [], "README rows without a case"
    assert sorted(set(CASES) - set(ROWS)) == [], "cases without a README row"


@pytest.mark.parametrize("what", list(CASES), ids=[trigger.__name__ for trigger in CASES.values()])
def test_the_user_sees_the_readme_error_and_nothing_is_written(what, tmp_path):
    assert what in ROWS, "a case without a README row"
    type_name, message = ROWS[what]
    keras.utils.set_random_seed(0)
    with pytest.raises(Exception) as raised:
        CASES[what](tmp_path)
    assert type(raised.value).__name__ == type_name, raised.value
    assert message in str(raised.value)
    workdir = tmp_path / "run"
    assert not [path for path in workdir.rglob("*") if path.is_file()]
