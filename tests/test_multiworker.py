"""Two worker processes under MultiWorkerMirroredStrategy train as one device does.

Each worker (tests/support/multiworker_worker.py) sees one CPU device and its own TF_CONFIG
task on 127.0.0.1; together they hold two replicas. A robust student (with its
multiplier updates from a distributed validation pass) and a SoTeacher teacher (with
its running-mean buffer) must end with the same weights, λ, buffer and training and
validation logs as the same training on one device with the same global batch.
"""

import contextlib
import json
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from support.multiworker_worker import results
from support.processes import environment, worker_script

pytestmark = pytest.mark.slow  # worker processes and whole jobs

WORKER_SCRIPT = worker_script("multiworker_worker.py")
TIMEOUT_SECONDS = 240


def free_ports(count):
    """`count` ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def worker_environment(cluster, index):
    """The environment of worker `index`: its TF_CONFIG, one CPU, the package importable."""
    task = {"type": "worker", "index": index}
    return environment(TF_CONFIG=json.dumps({"cluster": cluster, "task": task}))


@contextlib.contextmanager
def running_workers(tmp_path, num_workers=2):
    """Start the workers; on exit wait for all (killing every one on a failure or timeout).

    Yields a function returning the workers' outputs once they all succeeded.
    """
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(num_workers)]}
    logs = [tmp_path / f"worker{index}.log" for index in range(num_workers)]
    outputs = [tmp_path / f"worker{index}.npz" for index in range(num_workers)]
    processes = []

    def finished_outputs():
        """Fails as soon as one worker fails (the others would wait for it until the timeout)."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            codes = [process.poll() for process in processes]
            for log, code in zip(logs, codes, strict=True):
                assert code in (None, 0), log.read_text()[-3000:]
            if all(code == 0 for code in codes):
                return [dict(np.load(path)) for path in outputs]
            assert time.monotonic() < deadline, f"the workers ran over {TIMEOUT_SECONDS} s"
            time.sleep(0.2)

    try:
        for index in range(num_workers):
            with open(logs[index], "w") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, WORKER_SCRIPT, str(outputs[index])],
                        env=worker_environment(cluster, index),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield finished_outputs
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def assert_same(expected, actual):
    assert sorted(expected) == sorted(actual)
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_multiworker_training_equals_one_device(tmp_path):
    with running_workers(tmp_path) as worker_outputs:
        one_device = results(tf.distribute.get_strategy())  # while the workers train
        workers = worker_outputs()
    lambdas = one_device["robust/state"]
    assert np.ptp(lambdas) > 1e-3, "the test needs multipliers that moved"
    assert one_device["soteacher/state"].any(), "the test needs a filled prediction buffer"
    for worker in workers:
        assert_same(one_device, worker)
    assert_same(workers[0], workers[1])
