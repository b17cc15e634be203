r"""Speed and memory of the objectives against plain Keras (issue 7).

  python -m experiments.benchmark --quick --out=runs/benchmark
  python -m experiments.benchmark --out=runs/benchmark
  python -m experiments.benchmark --out=runs/benchmark_soteacher \
      --objectives=soteacher,soteacher_no_lr,soteacher_no_cr

Writes OUT/benchmarks.json and OUT/benchmarks.md (the machine, TF and Keras versions
and the command first) with:

- ``step_time_ratio``: median train-step time of each objective divided by that of
  ``keras.Model.fit`` with sparse categorical cross-entropy on the same net, batch and
  batches (target: at most 1.05). The robust objectives' multiplier update is not in
  their step; ``multiplier_update`` gives its share of training time instead.
- ``jit_compile_ratio``: step time with ``jit_compile=True`` over ``False``, per objective.
- ``cached_teacher_speedup``: step time of the Keras knowledge-distillation example's
  ``Distiller`` (the teacher runs in every step) over ``KDModel`` (cached teacher
  probabilities), for a teacher equal to the student and for one about 4x bigger.
- ``estimator_scaling``: seconds of ``estimators.debiasing_weights`` and of
  ``TeacherAccuracyEstimator.alpha`` + ``.k`` against the number of unlabeled examples,
  and the growth exponent (slope of log seconds against log N).
- ``soteacher_buffer``: bytes of SoTeacher's prediction buffer against N.

With ``--objectives`` only the step (and jit) ratios of the named objectives are measured;
with ``--measurements`` only the named measurements (e.g. ``--measurements=cached_teacher``).
How steps are timed: see ``experiments.benchmark.timing``.
"""

import dataclasses
import os
import sys
import time

from absl import app, flags, logging

from experiments.benchmark import multiplier_update
from experiments.benchmark.batches import FixedBatches
from experiments.benchmark.cached_teacher import TEACHER_PAIRS, cached_teacher_speedup
from experiments.benchmark.estimator_scaling import estimator_scaling
from experiments.benchmark.objective_table import OBJECTIVES
from experiments.benchmark.report import machine, markdown_report
from experiments.benchmark.settings import FULL, QUICK
from experiments.benchmark.soteacher_buffer import soteacher_buffer
from experiments.benchmark.step_ratios import step_time_ratios
from tf_robust_distill import files

_QUICK = flags.DEFINE_bool(
    "quick",
    False,
    "Fewer steps and repetitions and estimator sizes up to 100k: minutes on 2 cores, "
    "noisier ratios.",
)
_OUT = flags.DEFINE_string("out", None, "Directory for benchmarks.json and benchmarks.md.")
_OBJECTIVES = flags.DEFINE_list(
    "objectives",
    None,
    "Measure only the train-step ratios of these objectives (names of the step table); "
    "default: every objective and every other measurement.",
)
MEASUREMENTS = ("steps", "multiplier_update", "cached_teacher", "estimators", "soteacher_buffer")
_MEASUREMENTS = flags.DEFINE_list(
    "measurements",
    list(MEASUREMENTS),
    f"Which measurements to run: {', '.join(MEASUREMENTS)}.",
)
flags.mark_flag_as_required("out")


def run(settings, objectives=None, measurements=MEASUREMENTS):
    """The `measurements` of the module docstring, as one JSON-able dict.

    With `objectives` (names of `OBJECTIVES`), only their step and jit ratios.
    """
    start = time.perf_counter()
    results = {"machine": machine(), "settings": dataclasses.asdict(settings)}
    batches = {net: FixedBatches(steps) for net, steps in settings.steps.items()}
    if objectives:
        measurements = ("steps",)
    if "steps" in measurements:
        results["step_time_ratio"], results["jit_compile_ratio"] = {}, {}
        for net_name in settings.steps:
            jit = net_name in settings.jit_nets
            step, jit_ratio = step_time_ratios(
                net_name, batches[net_name], settings, jit, objectives or list(OBJECTIVES)
            )
            results["step_time_ratio"][net_name] = step
            if jit:
                results["jit_compile_ratio"][net_name] = jit_ratio
    if "multiplier_update" in measurements:
        logging.info("multiplier update")
        results["multiplier_update"] = multiplier_update.multiplier_update_share(
            multiplier_update.NET, batches[multiplier_update.NET], settings
        )
    if "cached_teacher" in measurements:
        logging.info("cached teacher")
        results["cached_teacher_speedup"] = [
            cached_teacher_speedup(student, teacher, options, batches[student], settings)
            for student, teacher, options in TEACHER_PAIRS
        ]
    if "estimators" in measurements:
        logging.info("estimators")
        results["estimator_scaling"] = estimator_scaling(settings)
    if "soteacher_buffer" in measurements:
        results["soteacher_buffer"] = soteacher_buffer()
    return finished(results, start)


def finished(results, start):
    """`results` with the wall seconds since `start` and the load average at the end."""
    results["wall_seconds"] = time.perf_counter() - start
    results["machine"]["load_average_at_end"] = os.getloadavg()[0]
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = sorted(set(_OBJECTIVES.value or ()) - set(OBJECTIVES))
    if unknown:
        raise app.UsageError(f"unknown objectives {unknown}; choose among {', '.join(OBJECTIVES)}")
    unknown = sorted(set(_MEASUREMENTS.value) - set(MEASUREMENTS))
    if unknown:
        raise app.UsageError(
            f"unknown measurements {unknown}; choose among {', '.join(MEASUREMENTS)}"
        )
    out = _OUT.value
    os.makedirs(out, exist_ok=True)
    results = run(QUICK if _QUICK.value else FULL, _OBJECTIVES.value, _MEASUREMENTS.value)
    results["command"] = " ".join(["python -m experiments.benchmark", *sys.argv[1:]])
    text = markdown_report(results)
    files.write_json(results, os.path.join(out, "benchmarks.json"))
    files.write_text(text, os.path.join(out, "benchmarks.md"))
    print(text)


if __name__ == "__main__":
    app.run(main)
