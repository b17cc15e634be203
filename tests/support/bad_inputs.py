"""The README's table of bad inputs and the cases that make each mistake.

Each row of the README section "Bad input: the errors you see" reads
`what the user did | where | error`, the error as `Type: part of the message`. Every
row has a case, registered with `case` under the row's first cell in one of the
``tests/test_bad_inputs*.py`` files (by area), that makes the mistake the way a user
would and must raise that type with that message; `tests/test_bad_inputs.py` checks
the table and the cases against each other, so neither can change alone.
"""

import importlib
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from ml_collections import config_flags

import tf_robust_distill as trd
from support.tiny import tiny_net
from tf_robust_distill import pipeline

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)
SECTION = "## Bad input: the errors you see"
ERROR_CELL = re.compile(r"`(?P<type>\w+): (?P<message>.+)`")
CASES = {}


def readme_rows():
    """{what the user did: (error type name, message)} from the README section's table."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("what you did", "---"):
            continue
        assert len(cells) == 3, f"a row needs 3 cells: {line}"
        match = ERROR_CELL.fullmatch(cells[2])
        assert match, f"the error cell must read `Type: message`: {line}"
        assert cells[0] not in rows, f"two rows read {cells[0]}"
        rows[cells[0]] = (match["type"], match["message"])
    return rows


ROWS = readme_rows()


def case(what):
    """Register the decorated function as the case of the README row `what`."""

    def register(trigger):
        CASES[what] = trigger
        return trigger

    return register


def run_job(tmp_path, *overrides, config="configs/distill.py:demo"):
    """`python -m experiments.distill --config=CONFIG --workdir=tmp_path/run OVERRIDES`,
    in this process: the flags parsed as absl parses them, then the job it runs.

    One epoch and no logs, so that a check that went missing costs seconds.
    """
    argv = [
        "experiments.distill",
        f"--config={os.path.join(ROOT, config)}",
        f"--workdir={tmp_path / 'run'}",
        "--config.train.epochs=1",
        "--config.verbose=0",
        *overrides,
    ]
    flag_values = flags.FlagValues()
    parsed = config_flags.DEFINE_config_file(
        "config", flag_values=flag_values, lock_config=True, sys_argv=argv
    )
    workdir = flags.DEFINE_string("workdir", None, "", flag_values=flag_values)
    flag_values(argv)
    pipeline.run(parsed.value, workdir.value)


def examples():
    """12 examples (x [5], label) for the 3 classes of `tiny_net`, labels 0, 1, 2, 0, ..."""
    x = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(12) % 3))


def fit(model, batches, compile_options=None, **fit_options):
    """Compile `model` with Adam (and `compile_options`), fit it one epoch on `batches`."""
    model.compile(optimizer="adam", **(compile_options or {}))
    model.fit(batches, epochs=1, verbose=0, **fit_options)


def teacher_probs(num_examples=12):
    """Uniform teacher probabilities over 3 classes, one row per example."""
    return np.full((num_examples, 3), 1.0 / 3, np.float32)


def validation_probs():
    """Teacher probabilities [6, 3] and labels [6] of a small validation set."""
    return np.random.default_rng(1).dirichlet(np.ones(3), size=6), np.arange(6) % 3


def labels_cache(tmp_path, teacher=None):
    """A teacher-label cache of `teacher` (default `tiny_net(1)`) on `examples()`."""
    path = tmp_path / "teacher_labels.npz"
    trd.data.TeacherLabels.from_model(
        teacher or tiny_net(1), examples(), num_examples=12, cache_path=path
    )
    return path


def save_npz(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path}"


def load_every_case():
    """Import every ``tests/test_bad_inputs*.py`` file, which registers its cases."""
    for name in sorted(os.listdir(TESTS)):
        if name.startswith("test_bad_inputs") and name.endswith(".py"):
            importlib.import_module(name.removesuffix(".py"))
    return CASES


def cases_of(module):
    """pytest's parametrization over the cases registered by `module` (its ``__name__``)."""
    mine = {what: trigger for what, trigger in CASES.items() if trigger.__module__ == module}
    return pytest.mark.parametrize(
        "what", list(mine), ids=[trigger.__name__ for trigger in mine.values()]
    )


def assert_readme_error(what, tmp_path):
    """Make the mistake of README row `what`: it raises the row's error, nothing is written."""
    assert what in ROWS, "a case without a README row"
    type_name, message = ROWS[what]
    keras.utils.set_random_seed(0)
    with pytest.raises(Exception) as raised:
        CASES[what](tmp_path)
    assert type(raised.value).__name__ == type_name, raised.value
    assert message in str(raised.value)
    workdir = tmp_path / "run"
    assert not [path for path in workdir.rglob("*") if path.is_file()]
