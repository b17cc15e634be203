"""BalancedModel, RobustModel and MultiplierUpdate against the paper's formulas; λ in the logs."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support.tiny import NUM_CLASSES, batches, examples, tiny_net

from tf_robust_distill.objectives.balanced import (
    BalancedModel,
    class_priors_from_labels,
    class_priors_from_probs,
)
from tf_robust_distill.objectives.group_dro import GroupDROModel
from tf_robust_distill.objectives.robust import MultiplierUpdate, RobustModel


def _priors(distill):
    _, targets = examples(cycled_labels=True)
    if distill:
        return class_priors_from_probs(targets["teacher_probs"])
    return class_priors_from_labels(targets["label"], NUM_CLASSES)


def _margin_loss_eq9(probs, logits, costs):
    """Σ_y p_y log(1 + Σ_{j≠y} exp(log(c_y/c_j) − (f_y − f_j))), eq. (9) without 1/m."""
    n, m = probs.shape
    out = np.zeros(n)
    for i in range(n):
        for y in range(m):
            inner = sum(
                np.exp(np.log(costs[y] / costs[j]) - (logits[i, y] - logits[i, j]))
                for j in range(m)
                if j != y
            )
            out[i] += probs[i, y] * np.log1p(inner)
    return out


def _per_example(model, targets, logits):
    targets = {key: tf.constant(value) for key, value in targets.items()}
    return model.per_example_loss(targets, tf.constant(logits)).numpy()


def _set_multipliers(model, values):
    model.multipliers.log_multipliers.assign(np.log(np.asarray(values, np.float32)))


def test_class_priors_are_label_frequencies_and_teacher_marginals():
    labels = np.array([0, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(class_priors_from_labels(labels, 3), [1 / 6, 2 / 6, 3 / 6])
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(class_priors_from_probs(probs), [0.4, 0.6])
    with pytest.raises(ValueError, match=r"classes \[2\]"):
        class_priors_from_labels(np.array([0, 1, 1]), 3)


@pytest.mark.parametrize("distill", [False, True])
def test_balanced_loss_is_eq_9_with_inverse_priors(distill):
    x, targets = examples(n=12, cycled_labels=True)
    priors = _priors(distill)
    model = BalancedModel(tiny_net(), distill=distill, class_priors=priors)
    logits = model.backbone(x).numpy()
    probs = targets["teacher_probs"] if distill else np.eye(NUM_CLASSES)[targets["label"]]
    np.testing.assert_allclose(
        _per_example(model, targets, logits),
        _margin_loss_eq9(probs, logits.astype(np.float64), 1.0 / priors),
        rtol=1e-5,
    )


@pytest.mark.parametrize("distill", [False, True])
def test_alpha_zero_is_balanced_and_alpha_one_is_robust(distill):
    x, targets = examples(n=12, cycled_labels=True)
    priors = _priors(distill)
    lam = np.array([0.7, 0.2, 0.1])
    logits = tiny_net()(x).numpy()
    balanced = BalancedModel(tiny_net(), distill=distill, class_priors=priors)
    probs = targets["teacher_probs"] if distill else np.eye(NUM_CLASSES)[targets["label"]]
    for alpha in (0.0, 0.4, 1.0):
        model = RobustModel(tiny_net(), distill=distill, class_priors=priors, alpha=alpha)
        _set_multipliers(model, lam)
        beta = (1 - alpha) / NUM_CLASSES + alpha * lam
        expected = _margin_loss_eq9(probs, logits.astype(np.float64), beta / priors)
        np.testing.assert_allclose(_per_example(model, targets, logits), expected, rtol=1e-5)
        if alpha == 0.0:
            np.testing.assert_allclose(
                _per_example(model, targets, logits),
                _per_example(balanced, targets, logits),
                rtol=1e-6,
            )


def _log_softmax(f):
    f = f - f.max(axis=1, keepdims=True)
    return f - np.log(np.exp(f).sum(axis=1, keepdims=True))


def _validation_risks(logits, memberships, risk):
    """Algorithm 1 / eq. (10): R_j = Σ_i w_ij ℓ(j, f(x_i)) / (n π̂_j), π̂_j = mean_i w_ij."""
    if risk == "zero_one":
        losses = 1.0 - np.eye(NUM_CLASSES)[np.argmax(logits, axis=1)]
    else:
        losses = -_log_softmax(logits.astype(np.float64))
    n = len(logits)
    return (memberships * losses).sum(axis=0) / (n * memberships.mean(axis=0))


@pytest.mark.parametrize(
    ("validation_labels", "risk", "alpha"),
    [("one_hot", "zero_one", 1.0), ("teacher", "zero_one", 0.5), ("teacher", "xent", 1.0)],
)
def test_multiplier_update_follows_algorithms_1_to_3(validation_labels, risk, alpha):
    """Frozen weights: three updates from the same model are three EG steps of γα on R(f^0)."""
    x_val, val_targets = examples(n=30, seed=5, cycled_labels=True)
    validation = tf.data.Dataset.from_tensor_slices((x_val, val_targets)).batch(7)
    model = RobustModel(
        tiny_net(),
        distill=True,
        class_priors=_priors(True),
        alpha=alpha,
        step_size=0.8,
        validation_labels=validation_labels,
        risk=risk,
        average_iterates=True,
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    callback = MultiplierUpdate(validation, every_n_steps=1)
    model.fit(batches(n=48, cycled_labels=True), epochs=1, verbose=0, callbacks=[callback])

    logits = model.backbone(x_val).numpy()
    memberships = (
        val_targets["teacher_probs"]
        if validation_labels == "teacher"
        else np.eye(NUM_CLASSES)[val_targets["label"]]
    )
    risks = _validation_risks(logits, memberships, risk)
    lam, iterates = np.full(NUM_CLASSES, 1 / NUM_CLASSES), []
    for _ in range(3):
        tilde = lam * np.exp(0.8 * alpha * risks)
        lam = tilde / tilde.sum()
        iterates.append(lam)
    np.testing.assert_allclose(model.multipliers.current(), lam, rtol=1e-5)
    np.testing.assert_allclose(
        model.multipliers.averaged_multipliers.numpy(), np.mean(iterates, axis=0), rtol=1e-5
    )


def test_multipliers_are_logged_every_epoch_and_rise_on_the_worst_class():
    x_val, val_targets = examples(n=30, seed=5, cycled_labels=True)
    validation = tf.data.Dataset.from_tensor_slices((x_val, val_targets)).batch(16)
    model = RobustModel(
        tiny_net(), class_priors=_priors(False), step_size=1.0, average_iterates=True
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(
        batches(cycled_labels=True), epochs=2, verbose=0, callbacks=[MultiplierUpdate(validation)]
    ).history
    assert float(model.multipliers.num_updates) == 2.0
    lam = np.asarray(model.multipliers.current())
    logged = [history[f"lambda_{j}"][-1] for j in range(NUM_CLASSES)]
    np.testing.assert_allclose(logged, lam, rtol=1e-6)
    np.testing.assert_allclose(lam.sum(), 1.0, rtol=1e-6)
    recall = [
        np.mean(model.predict(x_val[val_targets["label"] == j], verbose=0).argmax(1) == j)
        for j in range(NUM_CLASSES)
    ]
    assert np.argmax(lam) == np.argmin(recall)


def test_validation_set_missing_a_class_fails_before_training():
    x_val, val_targets = examples(n=30, seed=5, cycled_labels=True)
    keep = val_targets["label"] != 2
    validation = tf.data.Dataset.from_tensor_slices(
        (x_val[keep], {key: value[keep] for key, value in val_targets.items()})
    ).batch(8)
    model = RobustModel(tiny_net(), class_priors=_priors(False))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"classes \[2\]"):
        model.fit(
            batches(cycled_labels=True),
            epochs=1,
            verbose=0,
            callbacks=[MultiplierUpdate(validation)],
        )
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_teacher_validation_needs_teacher_probs_in_the_validation_data():
    x_val, val_targets = examples(n=30, seed=5, cycled_labels=True)
    validation = tf.data.Dataset.from_tensor_slices((x_val, {"label": val_targets["label"]})).batch(
        8
    )
    model = RobustModel(
        tiny_net(), distill=True, class_priors=_priors(True), validation_labels="teacher"
    )
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="'teacher_probs'"):
        model.fit(
            batches(cycled_labels=True),
            epochs=1,
            verbose=0,
            callbacks=[MultiplierUpdate(validation)],
        )


def test_multiplier_update_refuses_a_model_without_multipliers():
    model = BalancedModel(tiny_net(), class_priors=_priors(False))
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="RobustModel"):
        model.fit(
            batches(cycled_labels=True),
            epochs=1,
            verbose=0,
            callbacks=[MultiplierUpdate(batches(cycled_labels=True))],
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"step_size": 0.0}, "step_size"),
        ({"validation_labels": "soft"}, "validation_labels"),
        ({"risk": "hinge"}, "risk"),
        ({"validation_labels": "teacher", "distill": False}, "distill=True"),
        ({"class_priors": None}, "required"),
        ({"class_priors": [0.5, 0.6, -0.1]}, "positive"),
        ({"class_priors": [0.2, 0.2, 0.2]}, "sum to 1"),
        ({"class_priors": [0.5, 0.5]}, "one entry per class"),
    ],
)
def test_bad_hyperparameters_are_value_errors(kwargs, match):
    kwargs = {"class_priors": _priors(True), "distill": True, **kwargs}
    with pytest.raises(ValueError, match=match):
        RobustModel(tiny_net(), **kwargs)


@pytest.mark.parametrize("every_n_steps", [0, 2.5])
def test_bad_update_period_is_a_value_error(every_n_steps):
    with pytest.raises(ValueError, match="every_n_steps"):
        MultiplierUpdate(batches(cycled_labels=True), every_n_steps=every_n_steps)


class _LogRecorder(keras.callbacks.Callback):
    """Keeps the keys of the step logs, and the epoch logs with the λ the model holds then."""

    def on_train_begin(self, logs=None):
        self.step_keys, self.epochs = set(), []

    def on_train_batch_end(self, batch, logs=None):
        self.step_keys.update(logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((dict(logs), np.asarray(self.model.multipliers.current())))


def _tensorboard_tags(directory):
    tags = set()
    for path in tf.io.gfile.glob(f"{directory}/*"):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


@pytest.mark.parametrize("objective", ["robust", "group_dro_online"])
def test_multipliers_reach_the_epoch_logs_but_not_the_step_logs(tmp_path, objective):
    """λ is read once per epoch: History, TensorBoard and later callbacks see it, steps do not."""
    x_val, val_targets = examples(n=30, seed=5, cycled_labels=True)
    validation = tf.data.Dataset.from_tensor_slices((x_val, val_targets)).batch(16)
    if objective == "robust":
        model = RobustModel(tiny_net(), class_priors=_priors(False), step_size=1.0)
        callbacks = [MultiplierUpdate(validation)]
    else:
        model, callbacks = GroupDROModel(tiny_net(), step_size=1.0), []
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    recorder = _LogRecorder()
    callbacks += [keras.callbacks.TensorBoard(str(tmp_path)), recorder]
    history = model.fit(
        batches(cycled_labels=True), epochs=2, verbose=0, callbacks=callbacks
    ).history
    keys = [f"lambda_{j}" for j in range(NUM_CLASSES)]
    assert not recorder.step_keys & set(keys)
    assert len(recorder.epochs) == 2
    for epoch, (logs, lam) in enumerate(recorder.epochs):
        np.testing.assert_allclose([logs[key] for key in keys], lam, rtol=1e-6)
        np.testing.assert_allclose([history[key][epoch] for key in keys], lam, rtol=1e-6)
    assert not np.allclose(recorder.epochs[0][1], recorder.epochs[1][1])
    assert {f"epoch_{key}" for key in keys} <= _tensorboard_tags(tmp_path / "train")
