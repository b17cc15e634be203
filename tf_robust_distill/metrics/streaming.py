"""Streaming Keras metrics that match the numpy functions, on one device or many.

Each metric accumulates sufficient statistics in sum-aggregated variables (a [C, C]
confusion matrix, or per-bin calibration sums) and computes its result from them with
the formulas the numpy functions use. Under ``tf.distribute`` the statistics are summed
over replicas before ``result()`` reads them, so the numbers equal those of the numpy
functions on the whole data, whatever the number of replicas.

``y_true``: integer labels of shape [B] or [B, 1], or one-hot / probability targets of
shape [B, C] (reduced by argmax). Labels must lie in [0, C); they are not checked inside
the compiled step. ``y_pred``: logits or probabilities of shape [B, C].
``sample_weight`` (optional, shape [B] or [B, 1]) weights each example.

With no examples yet, scalar results are 0 and ``PerClassRecall``'s are all NaN; a class
with no examples has recall NaN and is left out of the balanced and worst-k averages.

The negative log-likelihood needs no class here: use Keras'
``keras.metrics.SparseCategoricalCrossentropy(from_logits=True)`` for integer labels
or ``keras.metrics.CategoricalCrossentropy(from_logits=True)`` for one-hot labels. Both
equal ``nll``, and are means of sum-aggregated totals, so exact under ``tf.distribute``.
"""

import keras
from keras import ops

from tf_robust_distill import checks
from tf_robust_distill.metrics import formulas

_register = keras.saving.register_keras_serializable(package="tf_robust_distill")


class _ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a weighted [C, C] confusion matrix (rows labels, columns predictions).

    A subclass names its default name (``default_name``) and the ``formulas`` function
    that computes its result from the matrix (``from_confusion``).
    """

    default_name = None
    from_confusion = None

    def __init__(self, num_classes, name=None, dtype=None):
        super().__init__(name=name or self.default_name, dtype=dtype)
        self.num_classes = checks.check_num_classes(num_classes)
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype=self.dtype,
            name="confusion_matrix",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _scores(y_pred, self.num_classes)
        labels = _sparse_labels(y_true, self.num_classes)
        predictions = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weights = _example_weights(sample_weight, labels, self.dtype)
        self.confusion.assign_add(
            formulas.confusion_counts(labels, predictions, self.num_classes, weights, xp=ops)
        )

    def result(self):
        return self.from_confusion(self.confusion, xp=ops)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@_register
class PerClassRecall(_ConfusionMatrixMetric):
    """Recall of each class: ``result()`` is {``<name>_j``: recall of class j}, scalars.

    Keras 3 merges a metric's dict result into the logs, so the default name ``recall``
    logs ``recall_0`` .. ``recall_{C-1}`` (``val_recall_j`` on validation data): one
    number per class in the progress bar, History, CSVLogger and TensorBoard, which takes
    scalars only. ``recalls()`` is the [C] vector. NaN for a class with no examples yet.
    """

    default_name = "recall"
    from_confusion = staticmethod(formulas.recall_from_confusion)

    def recalls(self):
        """The [C] vector of per-class recalls."""
        return super().result()

    def result(self):
        recalls = self.recalls()
        return {f"{self.name}_{j}": recalls[j] for j in range(self.num_classes)}


@_register
class BalancedAccuracy(_ConfusionMatrixMetric):
    """Mean per-class recall over the classes seen so far (streaming ``balanced_accuracy``)."""

    default_name = "balanced_accuracy"
    from_confusion = staticmethod(formulas.balanced_accuracy_from_confusion)


@_register
class WorstKAccuracy(_ConfusionMatrixMetric):
    """Mean of the k lowest per-class recalls (streaming ``worst_k_accuracy``).

    k = 1 is the worst-class accuracy (Wang et al., "Robust Distillation for Worst-class
    Performance", eq. (3), with the 0-1 loss). While fewer than k classes have been seen,
    the mean runs over those seen. The default name is ``worst{k}_accuracy``.
    """

    def __init__(self, num_classes, k=1, name=None, dtype=None):
        k = checks.check_k(k, checks.check_num_classes(num_classes))
        super().__init__(num_classes, name=name or f"worst{k}_accuracy", dtype=dtype)
        self.k = k

    def result(self):
        return formulas.worst_k_accuracy_from_confusion(self.confusion, self.k, xp=ops)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@_register
class ExpectedCalibrationError(keras.metrics.Metric):
    """Streaming ``expected_calibration_error`` over ``num_bins`` equal-width bins of (0, 1].

    Accumulates, per bin, the example weight, the sum of confidences and the sum of
    correct predictions (Guo et al., "On Calibration of Modern Neural Networks", 2017).
    """

    def __init__(
        self, num_bins=15, from_logits=True, name="expected_calibration_error", dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        self.num_bins = checks.check_num_bins(num_bins)
        self.from_logits = from_logits
        self.bin_weight, self.confidence_sum, self.correct_sum = (
            self.add_variable(
                shape=(self.num_bins,), initializer="zeros", dtype=self.dtype, name=statistic
            )
            for statistic in ("bin_weight", "confidence_sum", "correct_sum")
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _scores(y_pred, num_classes=None)
        probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
        labels = _sparse_labels(y_true, y_pred.shape[-1])
        predictions = ops.cast(ops.argmax(probs, axis=-1), "int32")
        confidence = ops.cast(ops.max(probs, axis=-1), self.dtype)
        correct = ops.cast(ops.equal(predictions, labels), self.dtype)
        weights = _example_weights(sample_weight, labels, self.dtype)
        stats = formulas.calibration_bin_stats(confidence, correct, weights, self.num_bins, ops)
        for variable, value in zip(
            (self.bin_weight, self.confidence_sum, self.correct_sum), stats, strict=True
        ):
            variable.assign_add(value)

    def result(self):
        return formulas.ece_from_bin_stats(
            self.bin_weight, self.confidence_sum, self.correct_sum, xp=ops
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_bins": self.num_bins,
            "from_logits": self.from_logits,
        }


@_register
class TopKAccuracy(keras.metrics.Metric):
    """Weighted fraction of examples whose label is among the k highest scores.

    Sums the weighted hits (`formulas.top_k_hits`) and the weights; equals
    `metrics.top_k_accuracy` on the whole data.
    """

    def __init__(self, k=5, name=None, dtype=None):
        super().__init__(name=name or f"top{k}_accuracy", dtype=dtype)
        if not checks.is_integer(k) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}.")
        self.k = int(k)
        self.hits = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="hits")
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="total"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _scores(y_pred, None)
        labels = _sparse_labels(y_true, y_pred.shape[-1])
        weights = _example_weights(sample_weight, labels, self.dtype)
        hits = ops.cast(formulas.top_k_hits(labels, y_pred, self.k, xp=ops), self.dtype)
        self.hits.assign_add(ops.sum(hits * weights))
        self.total.assign_add(ops.sum(weights))

    def result(self):
        return ops.divide_no_nan(self.hits, self.total)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


def _scores(y_pred, num_classes):
    """``y_pred`` as a tensor of shape [B, C], C checked against ``num_classes`` if given."""
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_pred.shape) != 2 or (
        num_classes is not None and y_pred.shape[-1] not in (None, num_classes)
    ):
        expected = "C" if num_classes is None else f"num_classes = {num_classes}"
        raise ValueError(f"y_pred must have shape [B, {expected}], got shape {y_pred.shape}.")
    return y_pred


def _sparse_labels(y_true, num_classes):
    """Integer labels [B] from labels [B] or [B, 1], or from targets [B, C] by argmax."""
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == 2 and y_true.shape[-1] == num_classes:
        y_true = ops.argmax(y_true, axis=-1)
    return ops.cast(ops.reshape(y_true, (-1,)), "int32")


def _example_weights(sample_weight, labels, dtype):
    """Per-example weights [B]: ``sample_weight`` flattened, or ones."""
    if sample_weight is None:
        return ops.ones_like(labels, dtype=dtype)
    return ops.cast(ops.reshape(sample_weight, (-1,)), dtype)
