"""The main job: data -> teacher -> teacher labels (once) -> student -> evaluation.

Used by `experiments/distill.py`, the experiment grids and the notebooks. The pieces
(`teacher.teacher_for`, `student.distill_selecting_temperature`, `evaluation.evaluate`)
let a grid train a teacher once and distill many students from its cached labels; every
model is built, compiled and fitted by the spine of both jobs (`training`).
"""

import dataclasses
import json
import os
import time

import numpy as np
from absl import logging

from tf_robust_distill import precision, progress, reporting
from tf_robust_distill.distribute import worker_directory
from tf_robust_distill.nets.registry import check_name as check_net_name
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline import config_checks, workdir_lock
from tf_robust_distill.pipeline.context import Context, load_splits
from tf_robust_distill.pipeline.context import prepare as prepare_context
from tf_robust_distill.pipeline.evaluation import agreement, evaluate
from tf_robust_distill.pipeline.student import distill_selecting_temperature, temperatures
from tf_robust_distill.pipeline.teacher import teacher_for

STUDENT_FILE = "student.keras"
RESULTS_FILE = "results.json"  # written last by `reporting.write_run`


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What `run` returns.

    Attributes:
      results: what results.json holds.
      table: the markdown table of results.md.
      context: the data, the teacher's backbone, its directory and its `TeacherLabels`
        on every split (e.g. for reliability diagrams of the teacher's test logits).
    """

    results: dict
    table: str
    context: Context


def check(config):
    """Fail before any work on a bad net, objective, option or temperature of either role,
    or a number of epochs that trains nothing."""
    config_checks.check_epochs(config.train.epochs, "train.epochs")
    for role in ("teacher", "student"):
        try:
            check_net_name(config[role].net)
        except ValueError as error:
            raise ValueError(f"{role}.net: {error}") from error
    config_checks.check_objective(config.teacher, "teacher", registry.TEACHER)
    config_checks.check_objective(
        config.student, "student", registry.STUDENT, config_checks.UNTRAINED_STUDENTS
    )
    temperatures(config)


def check_data(config, splits):
    """Fail before any work on what the data makes wrong: no step in an epoch (a batch
    larger than the training split with drop_remainder), eval.worst_k or
    student.teacher_top_k beyond the classes, a validation split without a class that
    post-shift or one-hot DRO risks need."""
    config_checks.check_steps(config.train, len(splits.train_labels), "the training split")
    config_checks.check_worst_k(config.eval.worst_k, splits.num_classes)
    config_checks.check_teacher_top_k(config.student, splits.num_classes)
    for name, role in (("teacher", registry.TEACHER), ("student", registry.STUDENT)):
        config_checks.check_validation_classes(
            config[name], name, role, splits.val_labels, splits.num_classes
        )


def check_runs(configs):
    """Every check of `prepare` for each of `configs`, before any of them runs: what a grid
    does before its first cell. The data is loaded once per dataset section and seed."""
    for config in configs:
        check(config)
    loaded = {}
    for config in configs:
        key = json.dumps([config.dataset.to_dict(), config.seed], sort_keys=True, default=str)
        if key not in loaded:
            loaded[key] = load_splits(config)
        check_data(config, loaded[key])


def prepare(config):
    """Check the config, pick the strategy, seed, load the data, check it against the
    config. Nothing is written."""
    check(config)
    context = prepare_context(config)
    check_data(config, context.splits)
    return context


def dataset_summary(splits):
    return {
        "name": splits.name,
        "num_classes": splits.num_classes,
        "train_size": len(splits.train_labels),
        "val_size": len(splits.val_labels),
        "test_size": len(splits.test_labels),
        "train_class_counts": np.bincount(splits.train_labels, minlength=splits.num_classes),
    }


@precision.keeps_caller_policy
def run(config, workdir, teacher_dir=None):
    """Run the job described by `config` (configs/distill.py) and write results in `workdir`.

    One job at a time per workdir (`workdir_lock`): a second job on `workdir` fails at
    once; one on the same `teacher_dir` waits for the first. The caller's Keras dtype
    policy is restored at the end.

    Args:
      teacher_dir: where the teacher and its labels are kept (default `workdir`); grids
        point many students' workdirs at one teacher directory.

    Returns:
      a `JobResult`.
    """
    started = time.time()
    context = prepare(config)
    # Multi-worker: only the chief writes here; the others write in copies (distribute.py).
    teacher_dir = teacher_dir and worker_directory(teacher_dir, context.strategy, copy=True)
    workdir = worker_directory(workdir, context.strategy, copy=True)
    with workdir_lock.locked(workdir, shared=teacher_dir):
        return train_and_publish(config, context, workdir, teacher_dir or workdir, started)


def train_and_publish(config, context, workdir, teacher_dir, started):
    """The teacher (stored or trained), the student, their evaluation, and the run's
    files published in `workdir` as one unit (`reporting.write_run`), results.json last."""
    context, teacher = teacher_for(config, context, teacher_dir)
    results = {"config": config.to_dict(), "dataset": dataset_summary(context.splits)}
    results["teacher"], teacher_probs = evaluate(teacher, context, config)
    student = None
    if config.student.objective != config_checks.NO_STUDENT:
        results["student"], student_probs, student = distill_selecting_temperature(
            config, context, workdir
        )
        results["agreement"] = agreement(teacher_probs, student_probs)
    progress.stage("evaluation", evaluation_line(results))
    results["seconds"] = time.time() - started
    table = reporting.write_run(
        results,
        workdir,
        list(context.splits.class_names),
        models={STUDENT_FILE: None if student is None else student.save},
    )
    histories = {
        role: getattr(getattr(model, "history", None), "history", {})
        for role, model in (("teacher", teacher), ("student", student))
    }
    reporting.write_multiplier_plots(histories, workdir, list(context.splits.class_names))
    logging.info("results written to %s", os.path.join(workdir, RESULTS_FILE))
    return JobResult(results, table, context)


def evaluation_line(results):
    """The test accuracy and worst-class accuracy of the teacher and the student, terse."""
    return "; ".join(
        f"{role} test accuracy {results[role]['test']['accuracy']:.4f}, "
        f"worst-class {results[role]['test']['worst1_accuracy']:.4f}"
        for role in ("teacher", "student")
        if role in results
    )
