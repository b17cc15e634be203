"""Resumable grids: finished cells are stored and never recomputed."""

import pytest

from configs import soteacher
from tf_robust_distill.grid import Grid, cell_key


def test_a_rerun_skips_finished_cells(tmp_path):
    calls = []

    def compute(value):
        def run():
            calls.append(value)
            return {"accuracy": value / 10}

        return run

    cells = [{"teacher": "std", "student": s, "seed": 0} for s in ("std", "rob")]
    grid = Grid(tmp_path)
    assert grid.run(cells[0], compute(1)) == {"accuracy": 0.1}
    with pytest.raises(KeyboardInterrupt):
        grid.run(cells[1], lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert not grid.done(cells[1])

    resumed = Grid(tmp_path)
    assert resumed.run(cells[0], compute(9)) == {"accuracy": 0.1}
    assert resumed.run(cells[1], compute(2)) == {"accuracy": 0.2}
    assert calls == [1, 2]
    assert [cell for cell, _ in resumed.records()] == sorted(cells, key=cell_key)


def test_cell_key_is_stable_and_distinguishes_cells():
    a = {"student": "rob", "alpha": 0.5, "seed": 1}
    assert cell_key(a) == cell_key(dict(reversed(list(a.items()))))
    assert cell_key(a) != cell_key({**a, "seed": 2})
    assert "/" not in cell_key({"dataset": "npz:/tmp/x.npz"})


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    config = soteacher.get_config("smoke")
    Grid(tmp_path, config)
    grown = soteacher.get_config("smoke")
    grown.grid.seeds = (0, 1, 2)
    grown.verbose = 0
    Grid(tmp_path, grown)
    changed = soteacher.get_config("smoke")
    changed.train.epochs = 5
    with pytest.raises(ValueError, match=r"\['train.epochs'\] differ"):
        Grid(tmp_path, changed)
