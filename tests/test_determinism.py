"""The same seed gives the same results.json twice; another seed gives another one.

Each job runs once in a fresh process (tests/support/resume_worker.py) and once in this one,
in fresh workdirs, with deterministic ops on (the configs' default): the results
(timings aside) and every saved weight must be equal. A run with another seed must
differ, so the comparison can fail. That the batches of an epoch are a function of
the seed and the epoch (shuffle and augmentation) is tested in test_data_pipeline.py.
"""

import os

import numpy as np
import pytest
from support import resume_worker
from support.keras_files import assert_same_arrays, h5_arrays, keras_file_arrays
from test_resume import results_without_timings, run_worker

pytestmark = pytest.mark.slow  # worker processes and whole jobs


def results_of_the_run(workdir):
    """results.json without its timings and without the config (which holds the seed)."""
    results = results_without_timings(workdir)
    results.pop("config", None)
    return results


def assert_some_array_differs(path, other_path):
    arrays, others = keras_file_arrays(path), keras_file_arrays(other_path)
    assert sorted(arrays) == sorted(others)
    assert any(not np.array_equal(arrays[name], others[name]) for name in arrays)


def stored_contents(path):
    """A stored file's content: its arrays (.npz, .h5, by name) or its bytes.

    Archives are compared by content, as np.savez stamps the time into them.
    """
    if path.endswith(".npz"):
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    if path.endswith(".h5"):
        return h5_arrays(path)
    with open(path, "rb") as handle:
        return handle.read()


def assert_same_files(directory, expected_directory):
    """The same files under both directories, with the same contents."""

    def files(top):
        return sorted(
            os.path.relpath(os.path.join(root, name), top)
            for root, _, names in os.walk(top)
            for name in names
        )

    names = files(expected_directory)
    assert files(directory) == names and names
    for name in names:
        content = stored_contents(os.path.join(directory, name))
        expected = stored_contents(os.path.join(expected_directory, name))
        if isinstance(expected, bytes):
            assert content == expected, name
        else:
            assert sorted(content) == sorted(expected), name
            for key, value in expected.items():
                np.testing.assert_array_equal(content[key], value, err_msg=f"{name}: {key}")


def run_in_process(run, workdir, monkeypatch, config=None):
    """`run` (a resume_worker job) in `workdir`, with the test callbacks for that workdir only."""
    workdir.mkdir()
    with monkeypatch.context() as patch:
        resume_worker.install(str(workdir), replace=patch.setattr)
        run(str(workdir), config)


def test_main_job_same_seed_same_results_other_seed_other_results(tmp_path, monkeypatch):
    """SoTeacher teacher and robust student (translate augmentation), seed 0 twice, then 1."""
    in_process, fresh_process, other_seed = (
        tmp_path / "in_process",
        tmp_path / "fresh_process",
        tmp_path / "other_seed",
    )
    fresh_process.mkdir()
    assert run_worker("main", fresh_process) == 0
    config = resume_worker.main_config()
    assert config.deterministic and config.seed == 0 and config.dataset.augment == "translate"
    run_in_process(resume_worker.run_main, in_process, monkeypatch)

    assert results_without_timings(in_process) == results_without_timings(fresh_process)
    for name in ("teacher.keras", "student.keras"):
        assert_same_arrays(in_process / name, fresh_process / name)
    assert_same_files(in_process / "teacher_labels", fresh_process / "teacher_labels")

    config = resume_worker.main_config()
    config.seed = 1
    run_in_process(resume_worker.run_main, other_seed, monkeypatch, config)
    assert results_of_the_run(other_seed) != results_of_the_run(in_process)
    assert (
        results_of_the_run(other_seed)["teacher"]["test"]
        != results_of_the_run(in_process)["teacher"]["test"]
    )
    for name in ("teacher.keras", "student.keras"):
        assert_some_array_differs(other_seed / name, in_process / name)


def test_unlabeled_job_same_seed_same_results_other_seed_other_results(tmp_path, monkeypatch):
    """Labeled stage and one weighted-student trial, seed 0 twice, then seed 1."""
    in_process, fresh_process, other_seed = (
        tmp_path / "in_process",
        tmp_path / "fresh_process",
        tmp_path / "other_seed",
    )
    fresh_process.mkdir()
    assert run_worker("unlabeled", fresh_process) == 0
    run_in_process(resume_worker.run_unlabeled, in_process, monkeypatch)

    assert results_without_timings(in_process) == results_without_timings(fresh_process)
    assert_same_arrays(in_process / "student.keras", fresh_process / "student.keras")
    # The teacher and pre-trained student on A: weights, reports and teacher labels.
    assert_same_files(in_process / "runs", fresh_process / "runs")

    config = resume_worker.unlabeled_config_for_test()
    config.seed = 1
    run_in_process(resume_worker.run_unlabeled, other_seed, monkeypatch, config)
    assert results_of_the_run(other_seed) != results_of_the_run(in_process)
    assert (
        results_of_the_run(other_seed)["student"]["test"]
        != results_of_the_run(in_process)["student"]["test"]
    )
    assert_some_array_differs(other_seed / "student.keras", in_process / "student.keras")
