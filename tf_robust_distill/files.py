"""Files written atomically: a reader sees the old file or the whole new one, never half.

Every writer goes through `atomic_path`: the content is written to a temporary file in the
destination's directory (same file system, so the rename is atomic), which is renamed over
the destination with ``os.replace`` once complete, or removed if writing fails. Files are
created readable like ``open(path, "w")`` creates them (0666 less the umask), not 0600.
The bottom floor: it imports nothing of the package.
"""

import contextlib
import json
import os
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s content to; renamed onto `path` on success.

    The temporary name ends with `path`'s base name, so writers that check the extension
    (``model.save`` wants ``.keras``, ``save_weights`` ``.weights.h5``) accept it.
    """
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=".partial-", suffix=f".{name}", dir=directory)
    os.close(handle)
    try:
        yield partial
        os.chmod(partial, 0o666 & ~_umask())
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


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
