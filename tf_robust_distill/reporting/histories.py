"""What a Keras History logged, as arrays: the DRO multipliers λ per epoch."""

import re

import numpy as np

_MULTIPLIER_KEY = re.compile(r"lambda_(\d+)")


def logged_multipliers(history):
    """λ per epoch from a Keras History dict with keys lambda_0..lambda_{m-1}: [epochs, m].

    None when the history has no such key (a model without DRO multipliers).
    """
    columns = {
        int(match[1]): values
        for key, values in history.items()
        if (match := _MULTIPLIER_KEY.fullmatch(key))
    }
    if not columns:
        return None
    if sorted(columns) != list(range(len(columns))):
        raise ValueError(f"multiplier keys must be lambda_0..lambda_(m-1), got {sorted(columns)}")
    return np.stack([np.asarray(columns[j], np.float64) for j in range(len(columns))], axis=1)
