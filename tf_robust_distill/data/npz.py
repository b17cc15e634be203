"""User datasets stored as a NumPy ``.npz`` file."""

import os
import zipfile

import numpy as np

from tf_robust_distill import checks
from tf_robust_distill.data.source import Source

REQUIRED_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
VALIDATION_ARRAYS = ("x_val", "y_val")


def _check_labels(key: str, labels: np.ndarray) -> None:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{key} must be a 1-D array of integer class labels; got shape {labels.shape} "
            f"and dtype {labels.dtype}."
        )


def _check_split(split: str, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(
            f"x_{split} must be a numeric array of shape [N, d] or [N, H, W, C]; got shape "
            f"{x.shape} and dtype {x.dtype}."
        )
    _check_labels(f"y_{split}", y)
    if len(x) != len(y):
        raise ValueError(f"x_{split} has {len(x)} examples but y_{split} has {len(y)} labels.")
    if len(y) == 0:
        raise ValueError(f"x_{split} and y_{split} are empty.")
    checks.check_features(x, f"x_{split}")


def read_npz_arrays(path: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Reads and checks the arrays of an npz dataset.

    The file holds ``x_train, y_train, x_test, y_test`` and optionally both ``x_val, y_val``.
    Features are [N, d] vectors or [N, H, W, C] images (any numeric dtype, same shape in every
    split, finite; values that look like unscaled 0-255 pixels give a warning,
    `checks.UnscaledFeaturesWarning`); labels are 1-D integer arrays with values in
    [0, num_classes), where num_classes is 1 + the largest training label.

    Returns:
      (split name -> (features, labels), num_classes).

    Raises:
      FileNotFoundError: if ``path`` is not a file.
      ValueError: if the file is no npz archive of numeric arrays; naming the array, if one
        is missing, has the wrong shape or dtype, its length differs from its partner's,
        it holds NaN or infinite features, or a label outside [0, num_classes).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"npz dataset file {path!r} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {key: npz[key] for key in npz.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path!r} is not an .npz archive of numeric arrays ({error}); write the dataset "
            "with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
        ) from error
    wanted = REQUIRED_ARRAYS + (VALIDATION_ARRAYS if set(VALIDATION_ARRAYS) & set(stored) else ())
    missing = [key for key in wanted if key not in stored]
    if missing:
        raise ValueError(
            f"{path!r} lacks the array(s) {missing}; an npz dataset holds {list(REQUIRED_ARRAYS)} "
            f"and optionally both of {list(VALIDATION_ARRAYS)} (it holds {sorted(stored)})."
        )
    splits = ("train", "val", "test") if "x_val" in stored else ("train", "test")
    arrays = {split: (stored[f"x_{split}"], stored[f"y_{split}"]) for split in splits}
    for split, (x, y) in arrays.items():
        _check_split(split, x, y)
        if x.shape[1:] != arrays["train"][0].shape[1:]:
            raise ValueError(
                f"x_{split} has examples of shape {x.shape[1:]} but x_train has "
                f"{arrays['train'][0].shape[1:]}."
            )
    num_classes = int(arrays["train"][1].max()) + 1
    for split, (_, y) in arrays.items():
        outside = y[(y < 0) | (y >= num_classes)]
        if outside.size:
            raise ValueError(
                f"y_{split} holds label {outside[0]}, outside [0, {num_classes}) (num_classes is "
                "1 + the largest label in y_train)."
            )
    return arrays, num_classes


def npz_source(path: str) -> Source:
    """A ``Source`` over an npz dataset (see ``read_npz_arrays``); features cast to float32.

    Features are used as stored: normalize them before saving. Class names are "0", "1", ...
    """
    arrays, num_classes = read_npz_arrays(path)
    return Source.from_arrays(
        arrays,
        num_classes=num_classes,
        class_names=tuple(str(c) for c in range(num_classes)),
    )
