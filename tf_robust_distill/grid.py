"""Resumable experiment grids: every finished cell is stored, a rerun skips it.

A cell is a JSON-able dict (objectives, hyper-parameters, seed). Its result is
written atomically to ``WORKDIR/cells/<name>-<hash>.json`` the moment it finishes,
so a grid cut off by a preemption or a time limit continues where it stopped,
and a partial grid can be reported as partial.

What a stored result is reused for is checked twice: the experiment's settings (every
section but ``grid``) are locked in ``WORKDIR/grid_config.json`` on first use, and each
cell is stored with the settings it ran with (the config after the cell's overrides, so
grid fields such as a temperature or a student's options count), so a rerun in which
either changed is refused with a ValueError naming the fields, never answered with a
result of other settings. A cell stored before its settings were recorded is read as it
is (the grid lock held its other settings).
"""

import hashlib
import json
import os
import re

import ml_collections

from tf_robust_distill.files import read_json, write_json, write_text
from tf_robust_distill.progress import GridProgress


def cell_key(cell):
    """A stable file name for `cell`: readable values, then a hash of the whole dict."""
    text = json.dumps(cell, sort_keys=True)
    readable = "-".join(str(cell[name]) for name in sorted(cell))
    readable = re.sub(r"[^A-Za-z0-9_.=]+", "_", readable)[:80]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


UNSHARED_SECTIONS = ("grid", "verbose")
STORED_CELL = "delete it to compute the cell again"


def settings_of(config):
    """The JSON value of a config (ConfigDict or dict) without `UNSHARED_SECTIONS`."""
    values = config if isinstance(config, dict) else config.to_dict()
    settings = {key: value for key, value in values.items() if key not in UNSHARED_SECTIONS}
    return json.loads(json.dumps(settings, default=str))


def differences(stored, current, prefix=""):
    """The dotted names of the fields in which two JSON values differ."""
    if not (isinstance(stored, dict) and isinstance(current, dict)):
        return [] if stored == current else [prefix or "(the whole value)"]
    return [
        name
        for key in sorted({*stored, *current})
        for name in differences(stored.get(key), current.get(key), f"{prefix}{key}.")
    ]


class Grid:
    """The cells of one experiment grid stored under `workdir`.

    Args:
      workdir: where the cells live.
      config: the experiment's ConfigDict. Its settings (all but the ``grid`` section,
        which may grow, and ``verbose``) are stored on first use; a rerun with other
        settings raises a ValueError instead of mixing their cells.
    """

    def __init__(self, workdir, config=None):
        self.workdir = workdir
        self.directory = os.path.join(workdir, "cells")
        if config is not None:
            self.check_settings(config)

    def check_settings(self, config):
        settings = settings_of(config)
        path = os.path.join(self.workdir, "grid_config.json")
        if not os.path.exists(path):
            write_json(settings, path)
            return
        stored = read_json(path, "delete it; the next run stores the settings again")
        changed = [name.rstrip(".") for name in differences(stored, settings)]
        if changed:
            raise ValueError(
                f"{self.workdir} holds cells of a run with other settings ({changed} "
                "differ); use another workdir, or the settings stored in grid_config.json."
            )

    def path(self, cell):
        return os.path.join(self.directory, cell_key(cell) + ".json")

    def done(self, cell):
        return os.path.exists(self.path(cell))

    def stored(self, cell):
        """What the file of a finished `cell` holds: {"cell", "result"[, "settings"]}."""
        return read_json(self.path(cell), STORED_CELL)

    def result(self, cell):
        """The stored result of a finished `cell`."""
        return self.stored(cell)["result"]

    def run(self, cell, compute, settings=None):
        """The stored result of `cell`, or `compute()` stored and returned.

        Args:
          settings: the config the cell runs with (ConfigDict or dict), stored with the
            result and compared with the stored one on a rerun.

        Raises:
          ValueError: the cell is stored with other settings (naming the fields).
        """
        current = None if settings is None else settings_of(settings)
        if self.done(cell):
            stored = self.stored(cell)
            recorded = stored.get("settings")
            changed = [] if None in (recorded, current) else differences(recorded, current)
            if changed:
                raise ValueError(
                    f"{self.path(cell)} was computed with other settings "
                    f"({[name.rstrip('.') for name in changed]} differ); use another "
                    f"workdir, or {STORED_CELL}."
                )
            return stored["result"]
        result = compute()
        write_json({"cell": cell, "settings": current, "result": result}, self.path(cell))
        return result

    def run_all(self, cells, compute, settings=None):
        """`run` every cell in order, logging progress (`GridProgress`: the cell, then its
        time and the ETA); `compute(cell)` makes a result and `settings(cell)` (if given)
        is the config it runs with."""
        progress = GridProgress(len(cells), sum(not self.done(cell) for cell in cells))
        for number, cell in enumerate(cells, 1):
            cell_settings = None if settings is None else settings(cell)
            stored = self.done(cell)
            if not stored:
                progress.start(number, cell)
            self.run(cell, lambda cell=cell: compute(cell), cell_settings)
            if not stored:
                progress.finish(number)

    def write_summary(self, text):
        """WORKDIR/summary.md (`text`) and summary.json (every stored cell and result)."""
        write_text(text, os.path.join(self.workdir, "summary.md"))
        records = [{"cell": cell, "result": result} for cell, result in self.records()]
        write_json(records, os.path.join(self.workdir, "summary.json"))

    def records(self):
        """Every stored (cell, result) pair, in file-name order."""
        if not os.path.isdir(self.directory):
            return []
        records = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".json"):
                stored = read_json(os.path.join(self.directory, name), STORED_CELL)
                records.append((stored["cell"], stored["result"]))
        return records


def with_overrides(config, overrides):
    """A new ConfigDict: `config` with {"section.key": value} overrides applied.

    Built from plain values, so an override may change a field's type (e.g. a
    temperature "auto" -> 3.0).
    """
    values = config.to_dict()
    for dotted, value in overrides.items():
        *path, key = dotted.split(".")
        section = values
        for name in path:
            section = section[name]
        if key not in section:
            raise KeyError(f"the config has no field {dotted!r}")
        section[key] = value
    return ml_collections.ConfigDict(values)
