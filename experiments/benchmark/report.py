"""The benchmark's markdown: the machine and the command first, then one table per concern."""

import os
import platform

import keras
import tensorflow as tf

from experiments.benchmark.cached_teacher import teacher_table
from experiments.benchmark.estimator_scaling import estimator_table
from experiments.benchmark.multiplier_update import multiplier_table
from experiments.benchmark.soteacher_buffer import buffer_table
from experiments.benchmark.step_ratios import step_table
from tf_robust_distill import reporting


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    """What the timings depend on: CPU, cores, load, platform, Python, TF and Keras versions."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


# result key -> its table, after the step ratios; a run with --objectives has none of them
TABLES = {
    "multiplier_update": multiplier_table,
    "cached_teacher_speedup": teacher_table,
    "estimator_scaling": estimator_table,
    "soteacher_buffer": buffer_table,
}


def markdown_report(results):
    """The results as markdown tables, machine and command first."""
    sections = [
        "# Benchmarks\n",
        reporting.markdown_rows(
            ["", ""],
            [
                *results["machine"].items(),
                ("command", f"`{results['command']}`"),
                ("wall seconds", f"{results['wall_seconds']:.0f}"),
            ],
        ),
    ]
    if "step_time_ratio" in results:
        sections.append(step_table(results["step_time_ratio"], results["jit_compile_ratio"]))
    sections += [table(results[key]) for key, table in TABLES.items() if key in results]
    return "\n".join(sections)
