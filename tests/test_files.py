"""Atomic files: whole content or the old file, readable permissions, nothing left behind."""

import json
import os
import stat

import numpy as np
import pytest

from tf_robust_distill import files


def test_json_round_trips_numpy_values_and_sorts_keys(tmp_path):
    path = tmp_path / "deep" / "result.json"
    files.write_json({"b": np.float32(0.5), "a": np.arange(3)}, path)
    text = path.read_text()
    assert json.loads(text) == {"a": [0, 1, 2], "b": 0.5}
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")


def test_npz_and_bytes_hold_what_was_written(tmp_path):
    files.write_npz(tmp_path / "cache.npz", logits=np.eye(3, dtype=np.float32))
    with np.load(tmp_path / "cache.npz") as stored:
        np.testing.assert_array_equal(stored["logits"], np.eye(3))
    files.write_bytes(b"\x00\x01", tmp_path / "raw.bin")
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_get_the_permissions_open_would_give(tmp_path, umask):
    previous = os.umask(umask)
    try:
        files.write_text("x", tmp_path / "atomic.txt")
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(os.stat(tmp_path / "atomic.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    files.write_json({"old": 1}, path)
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        files.write_json({"new": object()}, path)
    with pytest.raises(RuntimeError), files.atomic_path(path) as partial:
        with open(partial, "w") as handle:
            handle.write("half")
        raise RuntimeError("killed while writing")
    assert json.loads(path.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["result.json"]


def test_the_temporary_path_keeps_the_extension(tmp_path):
    with files.atomic_path(tmp_path / "model.weights.h5") as partial:
        assert partial.endswith(".model.weights.h5")
        assert os.path.dirname(partial) == str(tmp_path)
        open(partial, "wb").close()
    assert os.listdir(tmp_path) == ["model.weights.h5"]
