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

from tf_robust_distill.reporting import write_json


def cell_key(cell):
    """A stable file name for `cell`: readable values, then a hash of the whole dict."""
    text = json.dumps(cell, sort_keys=True)
    readable = "-".join(str(cell[name]) for name in sorted(cell))
    readable = re.sub(r"[^A-Za-z0-9_.=]+", "_", readable)[:80]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


class Grid:
    """The cells of one experiment grid stored under `workdir`."""

    def __init__(self, workdir):
        self.directory = os.path.join(workdir, "cells")

    def path(self, cell):
        return os.path.join(self.directory, cell_key(cell) + ".json")

    def done(self, cell):
        return os.path.exists(self.path(cell))

    def run(self, cell, compute):
        """The stored result of `cell`, or `compute()` stored and returned."""
        if self.done(cell):
            with open(self.path(cell)) as handle:
                return json.load(handle)["result"]
        result = compute()
        write_json({"cell": cell, "result": result}, self.path(cell))
        return result

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
