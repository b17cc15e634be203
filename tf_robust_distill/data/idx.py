"""Reading IDX files, the array format of MNIST and Fashion-MNIST (gzipped or not)."""

import gzip
import os

import numpy as np

# Third byte of the magic number -> element type (big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the format of LeCun et al.'s MNIST database) into a numpy array.

    The header is two zero bytes, a type byte, the number of dimensions D, then D big-endian
    uint32 sizes; the data follow in C order. Gzipped files are recognized by their magic bytes.

    Raises:
      ValueError: if the file is not a well-formed IDX file.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        data = gzip.decompress(data)
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{os.fspath(path)!r} is not an IDX file (bad magic number).")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(data[4:header_size], dtype=">u4"))
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{os.fspath(path)!r} holds {len(data)} bytes but its IDX header (shape {shape}, "
            f"dtype {dtype}) needs {expected}."
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header_size)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
