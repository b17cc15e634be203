"""Train-step time of each objective over plain Keras, and of jit_compile on over off.

Both ratios come from the same interleaved repetitions: the Keras baseline, the
objective and (on the jit nets) the objective compiled with XLA take turns.
"""

from absl import logging

from experiments.benchmark.models import keras_baseline, warmed_objective
from experiments.benchmark.settings import BATCH_SIZE, IMAGE_SHAPE, NUM_CLASSES
from experiments.benchmark.timing import (
    CLOCKS,
    compare,
    interleaved_step_seconds,
    ratio_cell,
    warm_up,
)
from tf_robust_distill import reporting

TARGET_STEP_RATIO = 1.05
"""An objective's step may cost at most 5% more than plain Keras's."""


def step_time_ratios(net_name, batches, settings, jit, objectives):
    """Per objective of `objectives` (names of `OBJECTIVES`) on `net_name`: step ratio to
    plain Keras and, with `jit`, jit on/off ratio."""
    baseline = warm_up(keras_baseline(net_name, jit_compile=False), batches.with_labels())
    step_ratio, jit_ratio = {}, {}
    if jit:
        baseline_jit = warm_up(keras_baseline(net_name, jit_compile=True), batches.with_labels())
        seconds = interleaved_step_seconds(
            {"keras": baseline, "keras_jit": baseline_jit}, settings.repetitions
        )
        jit_ratio["keras"] = compare(seconds["keras_jit"], seconds["keras"])
    for name in objectives:
        logging.info("step time of %s on %s", name, net_name)
        contenders = {"keras": baseline, "objective": warmed_objective(name, net_name, batches)}
        if jit:
            contenders["objective_jit"] = warmed_objective(
                name, net_name, batches, jit_compile=True
            )
        seconds = interleaved_step_seconds(contenders, settings.repetitions)
        step_ratio[name] = compare(seconds["objective"], seconds["keras"])
        if jit:
            jit_ratio[name] = compare(seconds["objective_jit"], seconds["objective"])
    return step_ratio, jit_ratio


def step_table(step, jit):
    """Markdown of {net: `step_time_ratios`' step ratios} and {net: its jit ratios}."""
    header = ["objective"]
    header += [f"step / keras, {net}, {clock}" for net in step for clock in CLOCKS]
    header += [f"jit on / off, {net}, {clock}" for net in jit for clock in CLOCKS]
    rows = []
    for name in ["keras", *next(iter(step.values()))]:
        cells = [name]
        for net in step:
            for clock in CLOCKS:
                ratio = step[net].get(name)
                cells.append(ratio_cell(ratio[clock], TARGET_STEP_RATIO) if ratio else "1")
        cells += [ratio_cell(jit[net][name][clock]) for net in jit for clock in CLOCKS]
        rows.append(cells)
    keras_ms = "; ".join(
        f"{net}: "
        + ", ".join(
            f"{clock} {next(iter(step[net].values()))[clock]['denominator_ms']:.1f} ms"
            for clock in CLOCKS
        )
        for net in step
    )
    return (
        f"## Train-step time ratios (target ≤ {TARGET_STEP_RATIO}; * misses it)\n\n"
        f"Median over repetitions of paired ratios [quartiles]; batch {BATCH_SIZE}, "
        f"{NUM_CLASSES} classes, {IMAGE_SHAPE} random inputs, jit off unless stated. "
        f"wall: elapsed time; cpu: CPU time of the process (steadier under load). "
        f"Plain Keras step: {keras_ms}.\n\n" + reporting.markdown_rows(header, rows)
    )
