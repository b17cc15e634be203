"""Resumable experiment grids: every finished cell is stored, a rerun skips it.

A cell is a JSON-able dict (objectives, hyper-parameters, seed). Its result is
written atomically to ``WORKDIR/cells/<name>-<hash>.json`` the moment it finishes,
so a grid cut off by a preemption or a time limit continues where it stopped,
and a partial grid can be reported as partial.
"""

import hashlib
import json
import os
import re

import ml_collections

from tf_robust_distill.files import write_json, write_text


def cell_key(cell):
    """A stable file name for `cell`: readable values, then a hash of the whole dict."""
    text = json.dumps(cell, sort_keys=True)
    readable = "-".join(str(cell[name]) for name in sorted(cell))
    readable = re.sub(r"[^A-Za-z0-9_.=]+", "_", readable)[:80]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


UNSHARED_SECTIONS = ("grid", "verbose")


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
        settings = {
            key: value for key, value in config.to_dict().items() if key not in UNSHARED_SECTIONS
        }
        settings = json.loads(json.dumps(settings, default=str))
        path = os.path.join(self.workdir, "grid_config.json")
        if not os.path.exists(path):
            write_json(settings, path)
            return
        with open(path) as handle:
            stored = json.load(handle)
        if stored != settings:
            changed = sorted(
                key for key in {*stored, *settings} if stored.get(key) != settings.get(key)
            )
            raise ValueError(
                f"{self.workdir} holds cells of a run with other settings (sections {changed} "
                "differ); use another workdir, or the settings stored in grid_config.json."
            )

    def path(self, cell):
        return os.path.join(self.directory, cell_key(cell) + ".json")

    def done(self, cell):
        return os.path.exists(self.path(cell))

    def result(self, cell):
        """The stored result of a finished `cell`."""
        with open(self.path(cell)) as handle:
            return json.load(handle)["result"]

    def run(self, cell, compute):
        """The stored result of `cell`, or `compute()` stored and returned."""
        if self.done(cell):
            return self.result(cell)
        result = compute()
        write_json({"cell": cell, "result": result}, self.path(cell))
        return result

    def run_all(self, cells, compute):
        """`run` every cell in order, printing progress; `compute(cell)` makes a result."""
        for number, cell in enumerate(cells, 1):
            status = "stored" if self.done(cell) else "running"
            print(f"[{number}/{len(cells)}] {status}: {cell}", flush=True)
            self.run(cell, lambda cell=cell: compute(cell))

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
                with open(os.path.join(self.directory, name)) as handle:
                    stored = json.load(handle)
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
