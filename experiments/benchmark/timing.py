"""Timing shared by every measurement: two clocks, a step timer, interleaved paired ratios.

The machine may be busy, so absolute times drift; ratios are measured in one process with
the compared models interleaved. Each model is warmed up by one epoch (tracing and
compilation excluded), then every repetition runs one ``fit`` epoch of the same in-memory
batches per model, the order rotating between repetitions. A step is the time between
two consecutive ``on_train_batch_begin`` calls, on two clocks: wall time and the CPU time
of the process (all threads), which a busy machine disturbs much less. A repetition
reports its median step, a comparison the median over repetitions of the paired ratios
and their quartiles.
"""

import time

import keras
import numpy as np

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""Wall time, and the CPU time of the whole process (all its threads): on a loaded machine
the wall time of a step swings with the scheduler, its CPU time much less."""


def read_clocks():
    return {clock: read() for clock, read in CLOCKS.items()}


def timed_seconds(function):
    """{clock: seconds} of one call of `function`."""
    start = read_clocks()
    function()
    end = read_clocks()
    return {clock: end[clock] - start[clock] for clock in CLOCKS}


def median_seconds(function, repetitions):
    """{clock: median seconds} of `repetitions` calls of `function`."""
    timings = [timed_seconds(function) for _ in range(repetitions)]
    return {clock: float(np.median([t[clock] for t in timings])) for clock in CLOCKS}


class StepTimer(keras.callbacks.Callback):
    """Time between consecutive ``on_train_batch_begin`` calls: one step each, as fit runs it.

    Only the batch begin is hooked: a callback with ``on_train_batch_end`` turns off Keras's
    asynchronous batch-end dispatch, which would add a host sync on the logs to every step.
    Eager TensorFlow returns from the train function once the step has run, so an interval
    holds the whole step (reading the batch, forward, backward, update, metrics).
    """

    def on_train_begin(self, logs=None):
        self.starts = []

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(read_clocks())

    def step_seconds(self):
        """{clock: seconds of each step but the last}."""
        return {clock: np.diff([start[clock] for start in self.starts]) for clock in CLOCKS}


def median_step_seconds(model, dataset):
    """{clock: median step seconds} of one fit epoch over `dataset`."""
    timer = StepTimer()
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    return {clock: float(np.median(steps)) for clock, steps in timer.step_seconds().items()}


def warm_up(model, dataset):
    """One epoch that traces (and compiles) the train function; not timed."""
    model.fit(dataset, epochs=1, verbose=0)
    return model, dataset


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def interleaved_step_seconds(contenders, repetitions):
    """{name: {clock: [median step seconds of each repetition]}} for {name: (model, dataset)}.

    Every repetition times each contender once, the order rotated by one each time, so a
    load change hits all contenders alike.
    """
    names = list(contenders)
    seconds = {name: {clock: [] for clock in CLOCKS} for name in names}
    for repetition in range(repetitions):
        for name in rotated(names, repetition):
            for clock, value in median_step_seconds(*contenders[name]).items():
                seconds[name][clock].append(value)
    return seconds


def median_ratio(numerators, denominators):
    """Median over repetitions of numerator / denominator, paired repetition by repetition."""
    numerators, denominators = np.asarray(numerators), np.asarray(denominators)
    if numerators.shape != denominators.shape or numerators.size == 0:
        raise ValueError(
            f"need paired, non-empty timings; got shapes {numerators.shape} and "
            f"{denominators.shape}."
        )
    return float(np.median(numerators / denominators))


def compare(numerator, denominator):
    """Per clock: the median paired ratio, its quartiles and the median times (ms)."""
    summary = {}
    for clock in CLOCKS:
        ratios = np.asarray(numerator[clock]) / np.asarray(denominator[clock])
        summary[clock] = {
            "ratio": median_ratio(numerator[clock], denominator[clock]),
            "quartiles": np.quantile(ratios, [0.25, 0.75]).tolist(),
            "numerator_ms": 1e3 * float(np.median(numerator[clock])),
            "denominator_ms": 1e3 * float(np.median(denominator[clock])),
        }
    return summary


def ratio_cell(summary, target=None):
    """A `compare` summary of one clock as 'median [first quartile, third quartile]'.

    Starred when the median is above `target`.
    """
    low, high = summary["quartiles"]
    mark = " *" if target is not None and summary["ratio"] > target else ""
    return f"{summary['ratio']:.3f} [{low:.2f}, {high:.2f}]{mark}"
