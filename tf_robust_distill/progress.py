"""Progress of long work, one absl INFO line at a time: stages, counts with an estimated time left.

The command-line entry points run under ``absl.app``, which shows INFO lines; a library
caller sees them once it sets ``absl.logging.set_verbosity("info")``.

The estimate is the mean time of the units finished in this process times the units left
(`remaining_seconds`); units skipped without work (e.g. grid cells already stored) count
neither in the mean nor in what is left.
"""

import time

from absl import logging

LOG_EVERY_SECONDS = 10.0
"""A count (`Progress`) logs at most once per this many seconds, and not at all on work
shorter than that."""


def remaining_seconds(done, left, elapsed):
    """elapsed / done · left: the estimated seconds for `left` more units, after `done`
    units took `elapsed` seconds; None before the first unit is done."""
    if done <= 0:
        return None
    return elapsed / done * left


def format_duration(seconds):
    """A terse duration: '7 s', '3 min 05 s', '2 h 04 min'; '?' for None."""
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def stage(name, detail=""):
    """One header line for a stage of a job (e.g. 'teacher', 'student')."""
    logging.info("== %s%s", name, f": {detail}" if detail else "")


class Progress:
    """Counts units of `what` out of `total` and logs 'what: done/total unit, ETA ...'.

    Args:
      what: what is counted, to name it in the line (e.g. "teacher labels (train)").
      total: the number of units of the whole work.
      unit: the units' name (e.g. "batches").
      every_seconds: the least time between two lines; 0 logs every update.
      clock: seconds as a float (time.monotonic; a test passes its own).
    """

    def __init__(self, what, total, unit, every_seconds=LOG_EVERY_SECONDS, clock=time.monotonic):
        self.what, self.total, self.unit = what, total, unit
        self.every_seconds, self.clock = every_seconds, clock
        self.started = self.last_line = clock()
        self.done = 0

    def line(self):
        """The progress line after `done` units."""
        elapsed = self.clock() - self.started
        eta = remaining_seconds(self.done, self.total - self.done, elapsed)
        return (
            f"{self.what}: {self.done}/{self.total} {self.unit}, "
            f"{format_duration(elapsed)} so far, ETA {format_duration(eta)}"
        )

    def update(self, count=1):
        """`count` more units are done; log the line if `every_seconds` passed since the last."""
        self.done += count
        now = self.clock()
        if now - self.last_line >= self.every_seconds:
            self.last_line = now
            logging.info(self.line())


class GridProgress:
    """The progress of a grid: a line as each cell starts, and one after it with the ETA.

    Args:
      total: the number of cells.
      pending: how many of them are not stored yet (the work left at the start).
      clock: as for `Progress`.
    """

    def __init__(self, total, pending, clock=time.monotonic):
        self.total, self.pending, self.clock = total, pending, clock
        self.computed, self.seconds = 0, 0.0
        self.started = None
        logging.info("grid: %d cells, %d stored, %d to compute", total, total - pending, pending)

    def start(self, number, cell):
        """Cell `number` (1-based) is being computed."""
        self.started = self.clock()
        logging.info("[%d/%d] %s", number, self.total, cell)

    def finish(self, number):
        """Cell `number` is computed: log its time, the cells left and the ETA."""
        took = self.clock() - self.started
        self.computed += 1
        self.seconds += took
        left = self.pending - self.computed
        eta = remaining_seconds(self.computed, left, self.seconds)
        logging.info(
            "[%d/%d] done in %s; %d cells left to compute, ETA %s",
            number,
            self.total,
            format_duration(took),
            left,
            format_duration(eta),
        )
