"""scikit-learn's bundled 8x8 handwritten digits: the dataset that needs no download."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tf_robust_distill.data.source import Source

TEST_FRACTION = 0.4
SPLIT_SEED = 0


def digits_source() -> Source:
    """The 1,797 digits as a fixed stratified 60/40 train/test split (1,078 / 719 images).

    Pixels (0..16) are divided by 16; images have shape (8, 8, 1). The train/test split is fixed
    (seed ``SPLIT_SEED``) so that, as for published datasets, the "original" test set is always
    the same and ``load``'s seed only drives the papers' splits made from it.
    """
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        digits.target,
        test_size=TEST_FRACTION,
        stratify=digits.target,
        random_state=SPLIT_SEED,
    )
    return Source.from_arrays(
        {"train": (x_train, y_train), "test": (x_test, y_test)},
        num_classes=10,
        class_names=tuple(str(name) for name in digits.target_names),
    )
