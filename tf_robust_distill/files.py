"""Files written atomically: a reader sees the old file or the whole new one, never half.

Every writer goes through `atomic_path`: the content is written to a temporary file in the
destination's directory (same file system, so the rename is atomic), which is renamed over
the destination with ``os.replace`` once complete, or removed if writing fails. Files are
created readable like ``open(path, "w")`` creates them (0666 less the umask), not 0600.
Files published together (a model and its results) go through `atomic_group`, which
renames them into place only once all are written, the file that seals the group last.
`read_json` reads a file back and names it, with the remedy, when it is not valid JSON.
The bottom floor: it imports nothing of the package.
"""

import contextlib
import json
import os
import shutil
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s content to; renamed onto `path` on success.

    The temporary name ends with `path`'s base name, so writers that check the extension
    (``model.save`` wants ``.keras``, ``save_weights`` ``.weights.h5``) accept it.
    """
    with _partial_path(path) as partial:
        yield partial
        _publish(partial, path)


@contextlib.contextmanager
def _partial_path(path):
    """A new temporary file beside `path`, removed at the end of the block unless renamed."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=".partial-", suffix=f".{name}", dir=directory)
    os.close(handle)
    try:
        yield partial
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _publish(partial, path):
    """Rename the complete `partial` onto `path`, readable as ``open`` would create it."""
    os.chmod(partial, 0o666 & ~_umask())
    os.replace(partial, path)


@contextlib.contextmanager
def atomic_group(paths, seal, remove=()):
    """Yields {path: temporary path} for files published together, sealed by `seal`.

    Nothing is replaced until every file is written: a failure while writing (e.g. a full
    disk) leaves the old files as they were. Then the old `seal` is removed, each of
    `paths` renamed into place in order, and the new `seal` renamed last. A crash between
    these renames leaves the group without a seal, never an old seal beside new files:
    with results.json as the seal, a reader finds no results rather than old results
    next to a new model.

    Args:
      paths: the files of the group other than the seal (e.g. [".../student.keras"]).
      seal: the file whose presence says the group is complete (e.g. ".../results.json").
      remove: files or directories of an earlier group that this one does not have,
        removed (once the old seal is) so that they are not read as part of it.
    """
    paths = [*paths, seal]
    with contextlib.ExitStack() as stack:
        partials = {path: stack.enter_context(_partial_path(path)) for path in paths}
        yield partials
        for path in (seal, *remove):
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
        for path in paths:
            _publish(partials[path], path)


def read_json(path, remedy):
    """The JSON value stored in the file `path`.

    Raises:
      ValueError: the file is not valid JSON (e.g. truncated), naming it and `remedy`.
    """
    with open(path) as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); {remedy}") from error


def write_bytes(data, path):
    """Write the bytes `data` to `path` atomically."""
    with atomic_path(path) as partial, open(partial, "wb") as handle:
        handle.write(data)


def write_text(text, path):
    """Write the string `text` to `path` atomically."""
    write_bytes(text.encode(), path)


def write_json(obj, path):
    """Write `obj` as indented, key-sorted JSON to `path` atomically.

    numpy arrays and scalars are written as lists and numbers.
    """
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n", path)


def write_npz(path, **arrays):
    """``np.savez(path, **arrays)`` atomically."""
    with atomic_path(path) as partial, open(partial, "wb") as handle:
        np.savez(handle, **arrays)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _umask():
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
