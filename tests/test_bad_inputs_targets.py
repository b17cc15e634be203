"""The README's bad inputs of targets and features: checked once on the host, before
training or scoring, never in the train step."""

import warnings

import keras
import numpy as np
import tensorflow as tf
from support.bad_inputs import (
    assert_readme_error,
    case,
    cases_of,
    examples,
    save_npz,
)
from support.tiny import tiny_net

import tf_robust_distill as trd


def arrays(labels=None):
    """x [12, 5] and labels [12] of `examples()` as numpy arrays."""
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    return x, np.arange(12) % 3 if labels is None else labels


@case("a dataset whose labels are floats")
def float_labels_in_a_dataset(tmp_path):
    x, labels = arrays()
    dataset = tf.data.Dataset.from_tensor_slices((x, labels.astype(np.float32)))
    trd.data.training_pipeline(dataset, 4, seed=0)


@case("a dataset with label 3 on 3 classes")
def label_out_of_range_in_a_dataset(tmp_path):
    x, labels = arrays()
    labels[5] = 3
    dataset = tf.data.Dataset.from_tensor_slices((x, labels))
    trd.data.training_pipeline(dataset, 4, seed=0, num_classes=3)


@case("teacher logits passed as per-example `teacher_probs`")
def logits_as_teacher_probs_in_a_pipeline(tmp_path):
    logits = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    trd.data.training_pipeline(examples(), 4, seed=0, per_example={"teacher_probs": logits})


@case("`training_pipeline(..., drop_remainder=True)` with a batch larger than the dataset")
def batch_larger_than_the_dataset(tmp_path):
    trd.data.training_pipeline(examples(), 16, seed=0, drop_remainder=True)


@case("`model.fit(x, {'label': labels})` with a label 5 on 3 classes")
def label_out_of_range_in_fit(tmp_path):
    x, labels = arrays()
    labels[0] = 5
    model = trd.StandardModel(tiny_net())
    model.compile(optimizer="adam")
    model.fit(x, {"label": labels}, epochs=1, verbose=0)


@case("`model.fit(x, {'label': labels})` with float labels")
def float_labels_in_fit(tmp_path):
    x, labels = arrays()
    model = trd.StandardModel(tiny_net())
    model.compile(optimizer="adam")
    model.fit(x, {"label": labels + 0.7}, epochs=1, verbose=0)


@case("`student.fit(x, {'label': ..., 'teacher_probs': logits})`")
def logits_as_teacher_probs_in_fit(tmp_path):
    x, labels = arrays()
    logits = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    model = trd.StandardModel(tiny_net(), distill=True)
    model.compile(optimizer="adam")
    model.fit(x, {"label": labels, "teacher_probs": logits}, epochs=1, verbose=0)


@case("`labels.probs(temperature=float('nan'))`")
def nan_temperature(tmp_path):
    labels = trd.data.TeacherLabels.from_model(tiny_net(1), examples(), num_examples=12)
    labels.probs(temperature=float("nan"))


@case("`KDModel(backbone, temperature=float('inf'))`")
def infinite_temperature(tmp_path):
    trd.KDModel(tiny_net(), temperature=float("inf"))


@case("an `.npz` file whose `x_test` holds a NaN")
def npz_with_nan_features(tmp_path):
    x, y = arrays()
    x_test = x.copy()
    x_test[4, 2] = np.nan
    trd.data.load(save_npz(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x_test, y_test=y))


@case("`model.evaluate(x, targets)` with a NaN in `x`")
def nan_features_in_evaluate(tmp_path):
    x, labels = arrays()
    x[7, 0] = np.nan
    model = trd.StandardModel(tiny_net())
    model.compile(optimizer="adam")
    model.evaluate(x, {"label": labels}, verbose=0)


@case("an `.npz` file of 0-255 pixel values (a warning)")
def npz_with_unscaled_pixels(tmp_path):
    x, y = (np.arange(60).reshape(12, 5) % 256).astype(np.uint8), arrays()[1]
    path = save_npz(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", trd.checks.UnscaledFeaturesWarning)
        trd.data.load(path)


@case("a backbone ending in `Dense(C, activation='softmax')`")
def softmax_backbone(tmp_path):
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(3, activation="softmax")(inputs)
    trd.StandardModel(keras.Model(inputs, outputs, name="classifier"), distill=True)


def compiled(model):
    model.compile(optimizer="adam")
    return model


@case("`RobustModel(...).fit` with neither `validation_data` nor a `MultiplierUpdate`")
def robust_fit_without_multiplier_updates(tmp_path):
    x, labels = arrays()
    compiled(trd.RobustModel(tiny_net(), class_priors=[1 / 3] * 3)).fit(
        x, {"label": labels}, epochs=1, verbose=0
    )


@case("`model.fit(..., class_weight=...)` on an objective that weights classes itself")
def class_weight_on_a_balanced_objective(tmp_path):
    x, labels = arrays()
    compiled(trd.BalancedModel(tiny_net(), class_priors=[1 / 3] * 3)).fit(
        x, {"label": labels}, class_weight={0: 2.0}, epochs=1, verbose=0
    )


@case("`model.fit(x, targets, class_weight=..., sample_weight=...)`")
def class_weight_and_sample_weight(tmp_path):
    x, labels = arrays()
    compiled(trd.StandardModel(tiny_net())).fit(
        x, {"label": labels}, class_weight={0: 2.0}, sample_weight=np.ones(12), verbose=0
    )


@case("`GroupDROModel(...).fit(x, targets, sample_weight=...)`")
def sample_weight_on_group_dro(tmp_path):
    x, labels = arrays()
    compiled(trd.GroupDROModel(tiny_net())).fit(
        x, {"label": labels}, sample_weight=np.ones(12), epochs=1, verbose=0
    )


@case("`KDModel` targets holding both `teacher_logits` and `teacher_probs`")
def kd_targets_with_logits_and_probs(tmp_path):
    x, labels = arrays()
    logits = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    probs = np.full((12, 3), 1 / 3, np.float32)
    targets = {"label": labels, "teacher_logits": logits, "teacher_probs": probs}
    compiled(trd.KDModel(tiny_net())).fit(x, targets, epochs=1, verbose=0)


@case("`KDModel(backbone, temperature=4).attach_teacher(OnlineTeacher(teacher, temperature=2))`")
def kd_with_an_online_teacher_at_another_temperature(tmp_path):
    teacher = trd.OnlineTeacher(tiny_net(1), temperature=2.0)
    trd.KDModel(tiny_net(), temperature=4.0).attach_teacher(teacher)


@case("soft labels (rows that are not one-hot) as `targets['label']`")
def soft_rows_as_labels(tmp_path):
    x, _ = arrays()
    compiled(trd.StandardModel(tiny_net())).fit(
        x, {"label": np.full((12, 3), 1 / 3, np.float32)}, epochs=1, verbose=0
    )


@cases_of(__name__)
def test_the_user_sees_the_readme_error_and_nothing_is_written(what, tmp_path):
    assert_readme_error(what, tmp_path)
