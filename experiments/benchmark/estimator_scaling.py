"""Seconds of the unlabeled-distillation estimators against the number of unlabeled examples."""

import numpy as np
from absl import logging
from scipy import special

from experiments.benchmark.timing import CLOCKS, median_seconds
from tf_robust_distill import estimators, reporting

NUM_CLASSES = 100
VALIDATION_EXAMPLES = 10_000


def growth_exponent(sizes, seconds):
    """Slope of the least-squares line of log seconds against log size: t ∝ N^slope."""
    slope, _ = np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float)), 1)
    return float(slope)


def growth(sizes, timings):
    """{clock: {seconds, growth_exponent}} from one {clock: seconds} per size."""
    result = {}
    for clock in CLOCKS:
        seconds = [timing[clock] for timing in timings]
        result[clock] = {"seconds": seconds, "growth_exponent": growth_exponent(sizes, seconds)}
    return result


def synthetic_predictions(num_examples, labels, rng):
    """Teacher and student probabilities [N, 100] float32, the teacher mostly right.

    The softmax stays in float32 (scipy keeps the dtype): at N = 1M the float64 of
    `tf_robust_distill.softmax` would double the memory of every [N, 100] array.
    """
    teacher_logits = rng.normal(size=(num_examples, NUM_CLASSES)).astype(np.float32)
    teacher_logits[np.arange(num_examples), labels] += 2.5
    student_logits = teacher_logits + rng.normal(size=teacher_logits.shape).astype(np.float32)
    return special.softmax(teacher_logits, axis=1), special.softmax(student_logits, axis=1)


def estimator_scaling(settings):
    """Seconds of the k-NN debiasing weights and of SLaM's α(x), k(x) against N."""
    rng = np.random.default_rng(2)
    labels_val = rng.integers(0, NUM_CLASSES, VALIDATION_EXAMPLES)
    teacher_val, student_val = synthetic_predictions(VALIDATION_EXAMPLES, labels_val, rng)
    accuracy = estimators.TeacherAccuracyEstimator(lower_bound=0.5, threshold=0.9)
    fit_seconds = median_seconds(
        lambda: accuracy.fit(teacher_val, labels_val), settings.estimator_repetitions
    )
    weights_seconds, alpha_k_seconds = [], []
    for size in settings.estimator_sizes:
        logging.info("estimators on %d unlabeled examples", size)
        labels = rng.integers(0, NUM_CLASSES, size)
        teacher, student = synthetic_predictions(size, labels, rng)
        weights_seconds.append(
            median_seconds(
                lambda t=teacher, s=student: estimators.debiasing_weights(
                    teacher_val, student_val, labels_val, t, s
                ),
                settings.estimator_repetitions,
            )
        )
        alpha_k_seconds.append(
            median_seconds(
                lambda t=teacher: (accuracy.alpha(t), accuracy.k(t)),
                settings.estimator_repetitions,
            )
        )
    sizes = list(settings.estimator_sizes)
    return {
        "num_classes": NUM_CLASSES,
        "validation_examples": VALIDATION_EXAMPLES,
        "unlabeled_examples": sizes,
        "teacher_accuracy_fit_seconds": fit_seconds,
        "debiasing_weights": growth(sizes, weights_seconds),
        "teacher_accuracy_alpha_and_k": growth(sizes, alpha_k_seconds),
    }


def estimator_table(scaling):
    """Markdown of `estimator_scaling`."""
    timed = {
        "debiasing_weights": scaling["debiasing_weights"],
        "TeacherAccuracyEstimator alpha + k": scaling["teacher_accuracy_alpha_and_k"],
    }
    header = ["unlabeled N", *(f"{name}, {clock} s" for name in timed for clock in CLOCKS)]
    rows = [
        [
            f"{size:,}",
            *(f"{t[clock]['seconds'][i]:.2f}" for t in timed.values() for clock in CLOCKS),
        ]
        for i, size in enumerate(scaling["unlabeled_examples"])
    ]
    rows.append(
        [
            "growth exponent",
            *(f"{t[clock]['growth_exponent']:.2f}" for t in timed.values() for clock in CLOCKS),
        ]
    )
    fit = scaling["teacher_accuracy_fit_seconds"]
    return (
        f"## Estimators ({scaling['num_classes']} classes, |V| = "
        f"{scaling['validation_examples']:,}; TeacherAccuracyEstimator.fit on V: "
        + ", ".join(f"{clock} {fit[clock]:.2f} s" for clock in CLOCKS)
        + ")\n\n"
        + reporting.markdown_rows(header, rows)
    )
