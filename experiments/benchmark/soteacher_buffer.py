"""Memory of SoTeacher's prediction buffer against the number of training examples."""

import keras
import numpy as np

from tf_robust_distill import objectives, reporting

NUM_CLASSES = 1000
SIZES = (10_000, 100_000, 1_281_167)
BUILT_SIZE = 10_000


def soteacher_buffer_bytes(num_examples, num_classes, buffer_dtype):
    """Bytes of prediction_mean [N, C] (`buffer_dtype`) and prediction_count [N] (int32)."""
    return num_examples * (num_classes * np.dtype(buffer_dtype).itemsize + 4)


def built_buffer_bytes(model):
    """Bytes of a built SoTeacherModel's prediction_mean and prediction_count variables."""
    variables = (model.prediction_mean, model.prediction_count)
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


def soteacher_model(num_examples, num_classes, buffer_dtype):
    """A SoTeacherModel around a one-layer net: only its buffer matters here."""
    inputs = keras.Input((4,))
    backbone = keras.Model(inputs, keras.layers.Dense(num_classes)(inputs))
    return objectives.SoTeacherModel(
        backbone,
        lipschitz_weight=0.0,
        consistency_weight_max=1.0,
        num_train_examples=num_examples,
        buffer_dtype=buffer_dtype,
    )


def soteacher_buffer():
    """Buffer bytes for N in SIZES, C = 1000, float32 and float16.

    The formula is checked against the variables of a built model at N = 10,000.
    """
    rows = []
    for buffer_dtype in ("float32", "float16"):
        model = soteacher_model(BUILT_SIZE, NUM_CLASSES, buffer_dtype)
        built = built_buffer_bytes(model)
        expected = soteacher_buffer_bytes(BUILT_SIZE, NUM_CLASSES, buffer_dtype)
        if built != expected:
            raise AssertionError(f"buffer formula {expected} B != built variables {built} B")
        for size in SIZES:
            rows.append(
                {
                    "num_examples": size,
                    "num_classes": NUM_CLASSES,
                    "buffer_dtype": buffer_dtype,
                    "bytes": soteacher_buffer_bytes(size, NUM_CLASSES, buffer_dtype),
                    "built_bytes": built if size == BUILT_SIZE else None,
                }
            )
    return rows


def buffer_table(rows):
    """Markdown of the `soteacher_buffer` rows."""
    return "## SoTeacher prediction buffer (prediction_mean + prediction_count)\n\n" + (
        reporting.markdown_rows(
            ["N", "C", "buffer dtype", "MB", "built variables MB"],
            [
                [
                    f"{r['num_examples']:,}",
                    r["num_classes"],
                    r["buffer_dtype"],
                    f"{r['bytes'] / 1e6:,.1f}",
                    "" if r["built_bytes"] is None else f"{r['built_bytes'] / 1e6:,.1f}",
                ]
                for r in rows
            ],
        )
    )
