"""The main job: data -> teacher -> teacher labels (once) -> student -> evaluation.

Used by `experiments/distill.py`, the experiment grids and the notebooks. The pieces
(`teacher.teacher_for`, `student.distill_selecting_temperature`, `evaluation.evaluate`)
let a grid train a teacher once and distill many students from its cached labels; every
model is built, compiled and fitted by the spine of both jobs (`training`).
"""

import dataclasses
import os
import time

import numpy as np

from tf_robust_distill import reporting
from tf_robust_distill.distribute import worker_directory
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline import checkpointing, config_checks
from tf_robust_distill.pipeline.context import Context
from tf_robust_distill.pipeline.context import prepare as prepare_context
from tf_robust_distill.pipeline.evaluation import agreement, evaluate
from tf_robust_distill.pipeline.student import distill_selecting_temperature, temperatures
from tf_robust_distill.pipeline.teacher import teacher_for


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
    """Fail before any work on a bad objective, option or temperature of either role."""
    config_checks.check_objective(config.teacher, "teacher", registry.TEACHER)
    config_checks.check_objective(
        config.student, "student", registry.STUDENT, config_checks.UNTRAINED_STUDENTS
    )
    temperatures(config)


def prepare(config):
    """Check the config, pick the strategy, seed, load the data. Nothing is written."""
    check(config)
    return prepare_context(config)


def dataset_summary(splits):
    return {
        "name": splits.name,
        "num_classes": splits.num_classes,
        "train_size": len(splits.train_labels),
        "val_size": len(splits.val_labels),
        "test_size": len(splits.test_labels),
        "train_class_counts": np.bincount(splits.train_labels, minlength=splits.num_classes),
    }


def run(config, workdir, teacher_dir=None):
    """Run the job described by `config` (configs/distill.py) and write results in `workdir`.

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
    os.makedirs(workdir, exist_ok=True)
    context, teacher = teacher_for(config, context, teacher_dir or workdir)
    results = {"config": config.to_dict(), "dataset": dataset_summary(context.splits)}
    results["teacher"], teacher_probs = evaluate(teacher, context, config)
    student = None
    if config.student.objective != config_checks.NO_STUDENT:
        results["student"], student_probs, student = distill_selecting_temperature(
            config, context, workdir
        )
        results["agreement"] = agreement(teacher_probs, student_probs)
        if student is not None:
            checkpointing.save_model(student, os.path.join(workdir, "student.keras"))
    results["seconds"] = time.time() - started
    table = reporting.write_run(results, workdir, list(context.splits.class_names))
    histories = {
        role: getattr(getattr(model, "history", None), "history", {})
        for role, model in (("teacher", teacher), ("student", student))
    }
    reporting.write_multiplier_plots(histories, workdir, list(context.splits.class_names))
    return JobResult(results, table, context)
