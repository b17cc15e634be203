"""Validation and test sets as two random halves of a dataset's test set."""

import numpy as np


def validation_test_halves(num_examples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits the positions of a test set into a validation half and a test half.

    The robust distillation paper (App. E.1.2, following Narasimhan and Menon 2021) splits the
    original (balanced) test set at random in half: one half validates, the other tests. The
    split depends only on ``num_examples`` and ``seed``, so a dataset and its long-tailed version
    share the same validation and test sets.

    Args:
      num_examples: size of the original test set, at least 2.
      seed: seed of the random split.

    Returns:
      (validation_positions, test_positions): sorted int64 arrays; the validation half has
      ``num_examples // 2`` positions and the test half the rest.
    """
    if num_examples < 2:
        raise ValueError(f"a test set needs at least 2 examples to be halved; got {num_examples}.")
    order = np.random.default_rng(seed).permutation(num_examples)
    half = num_examples // 2
    return np.sort(order[:half]).astype(np.int64), np.sort(order[half:]).astype(np.int64)
