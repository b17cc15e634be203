"""Execute notebooks headless, top to bottom; exit non-zero on the first cell error.

  python colab/run_notebooks.py [--small] [--executed DIR] [NOTEBOOK ...]

Runs every colab/*.ipynb when no notebook is named. Cells run in a fresh kernel of this
Python (``make notebooks`` uses the .venv), in the notebook's directory; the notebooks
on disk are not changed (their outputs stay cleared). ``--small`` sets
TRD_NOTEBOOK_SMALL=1, the notebooks' switch to small settings; ``--executed DIR`` keeps
a copy of each executed notebook, with its outputs and plots, in DIR.
"""

import argparse
import glob
import os
import sys
import time

import nbclient
import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))


def run(path, timeout):
    """The executed notebook at `path`; raises nbclient's CellExecutionError on a failing cell."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    return client.execute()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: every colab/*.ipynb")
    parser.add_argument("--small", action="store_true", help="set TRD_NOTEBOOK_SMALL=1")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--executed", help="directory for copies of the executed notebooks")
    args = parser.parse_args()
    if args.small:
        os.environ["TRD_NOTEBOOK_SMALL"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels' TensorFlow: no info lines
    paths = args.notebooks or sorted(glob.glob(os.path.join(HERE, "*.ipynb")))
    for path in paths:
        started = time.time()
        try:
            executed = run(path, args.timeout)
        except nbclient.exceptions.CellExecutionError as error:
            print(f"FAILED {path}:\n{error}", file=sys.stderr)
            return 1
        print(f"ok {path} ({time.time() - started:.0f} s)", flush=True)
        if args.executed:
            os.makedirs(args.executed, exist_ok=True)
            nbformat.write(executed, os.path.join(args.executed, os.path.basename(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
