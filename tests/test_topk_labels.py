"""Top-k teacher labels: the k largest logits, the tail rule, the cache, the pipelines, every
student objective reading them, and `TeacherLabels.from_model` on arrays and batched data."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from every_objective import CASES, TEACHER
from every_objective import data as every_objective_data
from scipy import special

from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import data, estimators
from tf_robust_distill.data import teacher_cache
from tf_robust_distill.data.topk_rows import TopKRows
from tf_robust_distill.pipeline import unlabeled

N, C, DIM = 41, 7, 5


def _teacher(seed=0, num_classes=C):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((DIM,))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Dense(16)(inputs)))


def _examples(n=N, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)).astype(np.float32), (np.arange(n) % C).astype(np.int32)


def _dataset(n=N):
    return tf.data.Dataset.from_tensor_slices(_examples(n))


def _logits(n=N, num_classes=C, seed=0):
    return (3.0 * np.random.default_rng(seed).normal(size=(n, num_classes))).astype(np.float32)


def numpy_top_k(logits, k):
    """(k largest logits, their classes, log Σ exp of the others): a transcription."""
    logits = np.asarray(logits, np.float64)
    classes = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    others = np.ones(logits.shape, bool)
    np.put_along_axis(others, classes, False, axis=1)
    tail = special.logsumexp(np.where(others, logits, -np.inf), axis=1)
    return np.take_along_axis(logits, classes, axis=1), classes, tail


@pytest.mark.parametrize("k", [1, 3, C])
def test_from_model_keeps_the_k_largest_logits_their_classes_and_the_tail_log_mass(k):
    teacher = _teacher()
    x, _ = _examples()
    labels = data.TeacherLabels.from_model(teacher, _dataset(), batch_size=8, top_k=k)
    top, classes, tail = numpy_top_k(teacher(x).numpy(), k)
    assert isinstance(labels, data.TopKTeacherLabels) and labels.top_k == k
    np.testing.assert_allclose(labels.top_logits, top, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(labels.top_classes, classes)
    np.testing.assert_allclose(labels.tail_logsumexp, tail, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_at_temperature_one_the_top_k_and_the_tail_mass_are_exact(k):
    logits = _logits()
    dense = special.softmax(logits.astype(np.float64), axis=1)
    rows = data.TopKTeacherLabels.from_logits(logits, k).probs(1.0)
    _, classes, _ = numpy_top_k(logits, k)
    in_top = np.zeros(dense.shape, bool)
    np.put_along_axis(in_top, classes, True, axis=1)
    np.testing.assert_allclose(rows[in_top], dense[in_top], rtol=1e-5, atol=1e-7)
    tail_mass = np.where(in_top, 0.0, dense).sum(axis=1)
    np.testing.assert_allclose(np.where(in_top, 0.0, rows).sum(axis=1), tail_mass, atol=1e-6)
    # The tail mass spread uniformly over the C - k other classes.
    expected_tail = np.repeat((tail_mass / (C - k))[:, None], C, axis=1)
    np.testing.assert_allclose(rows[~in_top], expected_tail[~in_top], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("temperature", [0.5, 2.0, 5.0])
@pytest.mark.parametrize("k", [1, 3])
def test_at_other_temperatures_the_rule_and_its_bound_hold(k, temperature):
    logits = _logits()
    top, _, s = numpy_top_k(logits, k)
    rows = data.TopKTeacherLabels.from_logits(logits, k).rows(temperature)
    # The rule: each tail class has the logit s - log(C - k), then softmax(. / T).
    top_mass = np.exp(top / temperature).sum(axis=1)
    uniform_tail = (C - k) ** (1 - 1 / temperature) * np.exp(s / temperature)
    expected = np.exp(top / temperature) / (top_mass + uniform_tail)[:, None]
    np.testing.assert_allclose(rows.probs, expected, rtol=1e-5)
    np.testing.assert_allclose(
        rows.tail, np.exp((s - np.log(C - k)) / temperature) / (top_mass + uniform_tail), rtol=1e-5
    )
    # The bound: the exact entry lies between the rule's and the whole-tail-on-one-class one.
    exact = np.take_along_axis(
        special.softmax(logits.astype(np.float64) / temperature, axis=1),
        numpy_top_k(logits, k)[1],
        axis=1,
    )
    one_class = np.exp(top / temperature) / (top_mass + np.exp(s / temperature))[:, None]
    low, high = (rows.probs, one_class) if temperature > 1 else (one_class, rows.probs)
    assert np.all(low <= exact * (1 + 1e-5)) and np.all(exact <= high * (1 + 1e-5))
    assert not np.allclose(rows.probs, exact, rtol=1e-3)  # an approximation, not exact


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_top_k_of_every_class_is_the_dense_softmax_at_every_temperature(temperature):
    logits = _logits()
    labels = data.TopKTeacherLabels.from_logits(logits, C)
    expected = data.TeacherLabels(logits, "").probs(temperature)
    np.testing.assert_allclose(labels.probs(temperature), expected, rtol=1e-5, atol=1e-7)


def test_hard_labels_argmax_and_marginal():
    logits = _logits()
    labels = data.TopKTeacherLabels.from_logits(logits, 3)
    np.testing.assert_array_equal(labels.argmax(), logits.argmax(axis=1))
    np.testing.assert_array_equal(labels.hard().dense(), np.eye(C)[logits.argmax(axis=1)])
    rows = labels.rows(2.0)
    np.testing.assert_allclose(rows.marginal(), rows.dense().mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(labels.marginal(2.0), rows.dense().mean(axis=0), rtol=1e-6)
    dense = data.TeacherLabels(logits, "")
    np.testing.assert_allclose(dense.marginal(2.0), dense.probs(2.0).mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("hard", [False, True])
def test_the_input_pipelines_build_the_dense_rows_of_each_batch(hard):
    rows = data.TopKTeacherLabels.from_logits(_logits(), 2).targets(3.0, hard=hard)
    expected = rows.dense()
    per_example = {"teacher_probs": rows}
    training = data.training_pipeline(_dataset(), 8, seed=0, per_example=per_example, num_classes=C)
    evaluation = data.evaluation_pipeline(_dataset(), 8, per_example=per_example)
    for pipeline in (training, evaluation):
        seen = []
        for _, targets in pipeline:
            index = targets["index"].numpy()
            np.testing.assert_array_equal(targets["teacher_probs"].numpy(), expected[index])
            seen.extend(index)
        assert sorted(seen) == list(range(N))


def test_the_pipeline_refuses_top_k_rows_of_another_size_or_class_count():
    rows = data.TopKTeacherLabels.from_logits(_logits(), 2).rows()
    with pytest.raises(ValueError, match="has 7 classes but 9 were expected"):
        data.training_pipeline(
            _dataset(), 8, seed=0, per_example={"teacher_probs": rows}, num_classes=9
        )
    with pytest.raises(ValueError, match="has 41 rows but the dataset has 40"):
        data.evaluation_pipeline(_dataset(40), 8, per_example={"teacher_probs": rows})


def test_top_k_rows_are_checked():
    with pytest.raises(ValueError, match="sums to"):
        TopKRows(np.array([[0.5, 0.4]]), np.array([[0, 1]]), np.array([0.2]), 3)
    with pytest.raises(ValueError, match="names a class twice"):
        TopKRows(np.array([[0.5, 0.3]]), np.array([[1, 1]]), np.array([0.2]), 3)
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        TopKRows(np.array([[0.5, 0.3]]), np.array([[0, 3]]), np.array([0.2]), 3)


def test_cache_file_is_about_k_over_c_of_the_dense_one(tmp_path):
    num_examples, num_classes = 3000, 100
    logits = _logits(num_examples, num_classes)
    data.TeacherLabels(logits, "teacher").save(tmp_path / "dense.npz")
    dense_bytes = os.path.getsize(tmp_path / "dense.npz")
    assert dense_bytes >= num_examples * num_classes * 4
    for k in (1, 5, 10):
        data.TopKTeacherLabels.from_logits(logits, k, "teacher").save(tmp_path / f"top{k}.npz")
        ratio = os.path.getsize(tmp_path / f"top{k}.npz") / dense_bytes
        # k float32 logits, k one-byte class ids and one float32 tail value per example.
        expected = (k * (4 + 1) + 4) / (4 * num_classes)
        assert expected <= ratio <= expected + 0.002, (k, ratio, expected)


def test_cache_round_trip_and_what_it_refuses(tmp_path):
    teacher, path = _teacher(), tmp_path / "train_top3.npz"
    first = data.TeacherLabels.from_model(teacher, _dataset(), cache_path=path, top_k=3)
    second = data.TeacherLabels.from_model(teacher, _dataset(), cache_path=path, top_k=3)
    for name in ("top_logits", "top_classes", "tail_logsumexp"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert (second.num_classes, second.data_fingerprint) == (C, first.data_fingerprint)
    with pytest.raises(ValueError, match="holds the top-3 logits, top_k=5 was asked"):
        data.TeacherLabels.from_model(teacher, _dataset(), cache_path=path, top_k=5)
    with pytest.raises(ValueError, match="written by a different teacher"):
        data.TeacherLabels.from_model(_teacher(1), _dataset(), cache_path=path, top_k=3)
    dense_path = tmp_path / "train.npz"
    data.TeacherLabels.from_model(teacher, _dataset(), cache_path=dense_path)
    with pytest.raises(ValueError, match=r"lacks the array\(s\)"):
        data.TeacherLabels.from_model(teacher, _dataset(), cache_path=dense_path, top_k=3)


@pytest.mark.parametrize("top_k", [0, C + 1, 2.0, True])
def test_top_k_outside_one_to_c_is_refused(top_k):
    with pytest.raises(ValueError, match=r"top_k must be None .* or an integer in \[1, 7\]"):
        data.TeacherLabels.from_model(_teacher(), _dataset(), top_k=top_k)


# TeacherLabels.from_model on numpy arrays, (x, y) tuples and batched datasets.


def test_arrays_tuples_and_batched_datasets_give_the_labels_of_the_unbatched_dataset():
    teacher = _teacher()
    x, y = _examples()
    # The same inference batch everywhere: float results may differ in the last bit
    # between batch shapes, depending on the CPU's kernels.
    reference = data.TeacherLabels.from_model(teacher, _dataset(), num_examples=N, batch_size=16)
    for inputs in (x, (x, y), _dataset().batch(6), tf.data.Dataset.from_tensor_slices(x).batch(8)):
        labels = data.TeacherLabels.from_model(teacher, inputs, batch_size=16)
        np.testing.assert_array_equal(labels.logits, reference.logits)
    batched = data.TeacherLabels.from_model(teacher, _dataset().batch(6))
    pair = data.TeacherLabels.from_model(teacher, (x, y))
    assert batched.data_fingerprint == pair.data_fingerprint == reference.data_fingerprint


def test_a_cache_written_from_unbatched_data_is_read_from_batched_data(tmp_path, monkeypatch):
    teacher, path = _teacher(), tmp_path / "train.npz"
    written = data.TeacherLabels.from_model(teacher, _dataset(), cache_path=path)

    def no_inference(*args, **kwargs):
        raise AssertionError("the teacher ran although its labels were cached")

    monkeypatch.setattr(teacher_cache, "bulk_inference", no_inference)
    read = data.TeacherLabels.from_model(teacher, _dataset().batch(5), cache_path=path)
    np.testing.assert_array_equal(read.logits, written.logits)


# Every student objective reads top-k labels; the estimators read their dense rows.


def _evaluated_loss(case, per_example, x, labels):
    model = case.make()
    model.compile(optimizer="sgd")
    dataset = tf.data.Dataset.from_tensor_slices((x, labels))
    pipeline = data.evaluation_pipeline(dataset, 16, per_example=per_example)
    return model.evaluate(pipeline, verbose=0, return_dict=True)["loss"]


@pytest.mark.parametrize(
    "name", sorted(name for name, case in CASES.items() if case.role != TEACHER)
)
def test_every_student_objective_reads_top_k_labels_as_their_dense_rows(name):
    case = CASES[name]
    x, targets = every_objective_data()
    logits = np.log(targets["teacher_probs"]) + np.random.default_rng(1).normal(size=(len(x), 1))
    rows = data.TopKTeacherLabels.from_logits(logits, 2).rows(2.0)
    arrays = {key: value for key, value in targets.items() if key not in ("label", "index")}
    top_k = _evaluated_loss(case, {**arrays, "teacher_probs": rows}, x, targets["label"])
    dense = _evaluated_loss(case, {**arrays, "teacher_probs": rows.dense()}, x, targets["label"])
    assert np.isfinite(top_k)
    assert top_k == pytest.approx(dense, rel=1e-6)


def test_confidences_read_from_top_k_rows_are_exact_or_bounded_as_documented():
    logits = _logits(200, C)
    dense = special.softmax(logits.astype(np.float64), axis=1)
    for k in (1, 2, 4):
        rows = np.asarray(data.TopKTeacherLabels.from_logits(logits, k).rows(1.0), np.float64)
        margin, exact_margin = estimators.margin(rows), estimators.margin(dense)
        if k >= 2:
            np.testing.assert_allclose(margin, exact_margin, atol=1e-6)
        else:
            assert np.all(margin >= exact_margin - 1e-6)
        entropy = estimators.prediction_entropy(rows)
        assert np.all(entropy >= estimators.prediction_entropy(dense) - 1e-6)
        mask_k = np.random.default_rng(k).integers(1, k + 1, len(rows))
        np.testing.assert_array_equal(
            estimators.top_k_mask(rows, mask_k), estimators.top_k_mask(dense, mask_k)
        )
    labels = np.random.default_rng(0).integers(0, C, 200)
    rows = data.TopKTeacherLabels.from_logits(logits, 2).rows(1.0)
    estimator = estimators.TeacherAccuracyEstimator().fit(rows, labels)
    np.testing.assert_array_equal(estimator.alpha(rows), estimator.alpha(np.asarray(rows)))


def _training_set_arrays(config, context, labels):
    stage = unlabeled.LabeledStage(
        teacher=None,
        teacher_labels=labels,
        teacher_directory="",
        student_checkpoint="",
        reports={},
    )
    split = unlabeled.trial_split(config, context)
    training_set = unlabeled.StudentTrainingSet(config, context, split, stage)
    keys = ("teacher_probs", "alpha", "topk", "weight")
    return split, training_set, training_set.per_example(keys)


def test_the_unlabeled_students_training_set_reads_top_k_labels():
    config = unlabeled_config.get_config("smoke")
    config.student.temperature = 2.0
    context = unlabeled.prepare(config)
    num_classes = context.splits.num_classes
    logits = _logits(context.num_examples("train"), num_classes)
    _, _, dense = _training_set_arrays(config, context, data.TeacherLabels(logits, "random"))
    every_class = data.TopKTeacherLabels.from_logits(logits, num_classes, "random")
    _, _, same = _training_set_arrays(config, context, every_class)
    for key, array in dense.items():
        np.testing.assert_allclose(same[key], array, rtol=1e-5, atol=1e-6, err_msg=key)
    top3 = data.TopKTeacherLabels.from_logits(logits, 3, "random")
    split, training_set, arrays = _training_set_arrays(config, context, top3)
    unlabeled_rows = training_set.rows(split.unlabeled_positions)
    expected = top3.select(split.unlabeled_positions).probs(2.0)
    np.testing.assert_allclose(arrays["teacher_probs"][unlabeled_rows], expected, rtol=1e-6)
    np.testing.assert_array_equal(
        arrays["topk"][unlabeled_rows],
        estimators.top_k_mask(
            expected, arrays["topk"][unlabeled_rows].sum(axis=1).astype(np.int64)
        ),
    )
    assert training_set.teacher_accuracy_on_unlabeled() == pytest.approx(
        np.mean(
            logits[split.unlabeled_positions].argmax(axis=1)
            == context.splits.train_labels[split.unlabeled_positions]
        )
    )
