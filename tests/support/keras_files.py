"""Readers of saved arrays: every dataset of an HDF5 file, every array of a .keras file."""

import io
import zipfile

import h5py
import numpy as np


def h5_arrays(file):
    """Every dataset of an HDF5 file (a path or a file object), by name."""
    arrays = {}
    with h5py.File(file, "r") as stored:
        stored.visititems(
            lambda name, item: (
                arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays


def keras_file_arrays(path):
    """Every array stored in a .keras file (weights and non-trainable state), by name."""
    with zipfile.ZipFile(path) as archive:
        return h5_arrays(io.BytesIO(archive.read("model.weights.h5")))


def assert_same_arrays(path, expected_path):
    """Two .keras files store the same arrays under the same names."""
    arrays, expected = keras_file_arrays(path), keras_file_arrays(expected_path)
    assert sorted(arrays) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(arrays[name], value, err_msg=name)
