"""The README's table of bad inputs: the cases of the command line, datasets, caches,
objectives, estimators and metrics, and the check that every row has a case.

`support.bad_inputs` reads the table and holds the registry; the other
``test_bad_inputs_*.py`` files hold the cases of their area.
"""

import numpy as np
import tensorflow as tf
from support.bad_inputs import (
    ROWS,
    assert_readme_error,
    case,
    cases_of,
    examples,
    fit,
    labels_cache,
    load_every_case,
    run_job,
    save_npz,
    teacher_probs,
    validation_probs,
)
from support.tiny import tiny_net

import tf_robust_distill as trd

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


@case("a top-k cache read with another k")
def top_k_cache_read_with_another_k(tmp_path):
    path = tmp_path / "train_top1.npz"
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), cache_path=path, top_k=1)
    trd.data.TeacherLabels.from_model(tiny_net(1), examples(), cache_path=path, top_k=2)


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
    np.savez(
        path, probs=teacher_probs(), fingerprint=np.array("0" * 64), data_fingerprint=np.array("")
    )
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
    cases = load_every_case()
    assert len(ROWS) >= 20
    assert sorted(set(ROWS) - set(cases)) == [], "README rows without a case"
    assert sorted(set(cases) - set(ROWS)) == [], "cases without a README row"


@cases_of(__name__)
def test_the_user_sees_the_readme_error_and_nothing_is_written(what, tmp_path):
    assert_readme_error(what, tmp_path)
