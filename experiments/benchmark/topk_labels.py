"""Memory and time of top-k teacher labels against dense ones.

  python -m experiments.benchmark.topk_labels

For C = 10, 100 and 1,000 classes (N random teacher logits, 784 random features per
example): the bytes of the training pipeline's per-example teacher table (dense N·C float32
against `TopKRows`: N·k probabilities, N·k class ids, N tail values), of the cache files as
written (`TeacherLabels.save`, `TopKTeacherLabels.save`), the time of one epoch of the input
pipeline alone (dense rows gathered, or built per batch by `topk_rows.dense_rows`), and the
train step of a distilled MLP student (`StandardModel(distill=True)`, hidden 128) on each
pipeline: the median of interleaved paired ratios top-k / dense (`timing`). The ImageNet
line (1,281,167 × 1,000) applies the per-example bytes measured here; nothing of that size
is built.
"""

import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from experiments.benchmark.timing import CLOCKS, compare, interleaved_step_seconds, warm_up
from tf_robust_distill import data, nets, objectives, reporting

NUM_EXAMPLES = 20_000
FEATURES = 784
BATCH_SIZE = 128
TOP_K = (1, 5, 10)
NUM_CLASSES = (10, 100, 1000)
IMAGENET = (1_281_167, 1000)
REPETITIONS = 5


def table_bytes(per_example):
    """Bytes of the arrays the pipeline holds for a ``teacher_probs`` value."""
    if isinstance(per_example, data.TopKRows):
        return sum(a.nbytes for a in (per_example.probs, per_example.classes, per_example.tail))
    return np.asarray(per_example, np.float32).nbytes


def file_bytes(labels, directory, name):
    path = os.path.join(directory, name)
    labels.save(path)
    return os.path.getsize(path)


def pipeline_seconds(pipeline):
    """Wall seconds of reading one epoch of `pipeline`, no model (median of 3)."""
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in pipeline:
            pass
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def student(num_classes):
    backbone = nets.get("mlp", num_classes, (FEATURES,), hidden_sizes=(128,))
    model = objectives.StandardModel(backbone, distill=True)
    model.compile(optimizer="sgd")
    return model


def measure(num_classes, directory):
    """Rows of one class count: dense, then every top-k with k < C."""
    rng = np.random.default_rng(num_classes)
    features = rng.uniform(size=(NUM_EXAMPLES, FEATURES)).astype(np.float32)
    labels = rng.integers(0, num_classes, NUM_EXAMPLES).astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    logits = (3.0 * rng.normal(size=(NUM_EXAMPLES, num_classes))).astype(np.float32)
    dense = data.TeacherLabels(logits, "benchmark")
    arms = {"dense": (dense.targets(), file_bytes(dense, directory, "dense.npz"))}
    for k in (k for k in TOP_K if k < num_classes):
        top_k = data.TopKTeacherLabels.from_logits(logits, k, "benchmark")
        arms[f"top-{k}"] = (top_k.targets(), file_bytes(top_k, directory, f"top{k}.npz"))
    pipelines = {
        name: data.training_pipeline(
            dataset, BATCH_SIZE, seed=0, per_example={"teacher_probs": targets}
        )
        for name, (targets, _) in arms.items()
    }
    steps = interleaved_step_seconds(
        {name: warm_up(student(num_classes), pipeline) for name, pipeline in pipelines.items()},
        REPETITIONS,
    )
    rows = []
    for name, (targets, cache_bytes) in arms.items():
        ratios = compare(steps[name], steps["dense"])
        rows.append(
            {
                "num_classes": num_classes,
                "labels": name,
                "table_bytes": table_bytes(targets),
                "file_bytes": cache_bytes,
                "pipeline_ms_per_batch": 1e3
                * pipeline_seconds(pipelines[name])
                / int(pipelines[name].cardinality()),
                "step": ratios,
            }
        )
    return rows


def report(rows):
    header = (
        "C",
        "labels",
        "pipeline table MB",
        "cache file MB",
        "/ dense file",
        "input pipeline ms / batch",
        *(f"step ms, {clock}" for clock in CLOCKS),
        *(f"step / dense, {clock}" for clock in CLOCKS),
    )
    dense_files = {
        row["num_classes"]: row["file_bytes"] for row in rows if row["labels"] == "dense"
    }
    table = [
        (
            f"{row['num_classes']:,}",
            row["labels"],
            f"{row['table_bytes'] / 1e6:.2f}",
            f"{row['file_bytes'] / 1e6:.2f}",
            f"{row['file_bytes'] / dense_files[row['num_classes']]:.3f}",
            f"{row['pipeline_ms_per_batch']:.2f}",
            *(f"{row['step'][clock]['numerator_ms']:.2f}" for clock in CLOCKS),
            *(
                f"{row['step'][clock]['ratio']:.3f} [{row['step'][clock]['quartiles'][0]:.2f}, "
                f"{row['step'][clock]['quartiles'][1]:.2f}]"
                for clock in CLOCKS
            ),
        )
        for row in rows
    ]
    num_examples, num_classes = IMAGENET
    thousand = [row for row in rows if row["num_classes"] == num_classes]
    scale = num_examples / NUM_EXAMPLES
    imagenet = ", ".join(
        f"{row['labels']} {row['file_bytes'] * scale / 1e9:.3f} GB" for row in thousand
    )
    return (
        f"N = {NUM_EXAMPLES:,} examples, batch {BATCH_SIZE}, {REPETITIONS} interleaved "
        "repetitions of one epoch.\n\n"
        + reporting.markdown_rows(header, table)
        + f"\nImageNet's {num_examples:,} × {num_classes:,} cache of one split at these "
        f"bytes per example: {imagenet}.\n"
    )


def main():
    with tempfile.TemporaryDirectory() as directory:
        rows = [row for num_classes in NUM_CLASSES for row in measure(num_classes, directory)]
    print(report(rows))


if __name__ == "__main__":
    main()
