"""The environment of a test's worker process, and where the worker scripts are."""

import os

SUPPORT_DIR = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(SUPPORT_DIR)
ROOT = os.path.dirname(TESTS_DIR)


def worker_script(name):
    """The path of the worker script `name` (e.g. "resume_worker.py") in this package."""
    return os.path.join(SUPPORT_DIR, name)


def environment(**variables):
    """This process's environment for a worker: on CPU, quiet, the repository and tests/
    importable (``configs``, ``tf_robust_distill``, ``support``), plus `variables`."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **variables)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, TESTS_DIR, env.get("PYTHONPATH", "")])
    return env
