"""Bounded increasing isotonic regression read as a step function (SLaM, App. B.1)."""

import dataclasses

import numpy as np
from sklearn.isotonic import IsotonicRegression


@dataclasses.dataclass(frozen=True)
class StepIsotonic:
    """Increasing step function fitted by bounded isotonic regression.

    Kontonis, Iliopoulos, Trinh, Baykal, Menghani, Vee. SLaM: Student-Label Mixing for
    Distillation with Unlabeled Examples. NeurIPS 2023, App. B.1: the fitted values r_hat
    minimize sum_i (r_i - r_hat_i)^2 subject to lb <= r_hat_1 <= ... <= r_hat_m <= 1 over the
    covariates sorted increasingly, and "for any given c the output of the regressor is the
    value of r_hat_i corresponding to the smallest c_i that is larger than or equal to c".
    Queries above the largest covariate get the last value (clipping at the boundary).

    The fit is scikit-learn's IsotonicRegression(increasing=True, y_min=lb, y_max=1); equal
    covariates share one fitted value (the mean response of the tie block).

    Only the largest covariate of each constant piece is kept as a knot: a query takes the value
    of the first knot >= it, exactly as with all covariates, and the lookup stays fast.

    Attributes:
      knots: increasing, the largest covariate of each constant piece of the fit.
      values: increasing, the fitted value of each piece, in [lower_bound, 1].
    """

    knots: np.ndarray
    values: np.ndarray

    @classmethod
    def fit(cls, covariate, response, lower_bound):
        """Fits on 1-D `covariate` and `response` (same length) with values in [lower_bound, 1]."""
        regression = IsotonicRegression(
            y_min=lower_bound, y_max=1.0, increasing=True, out_of_bounds="clip"
        ).fit(covariate, response)
        knots = np.unique(covariate)
        values = regression.predict(knots)
        piece_end = np.append(values[1:] != values[:-1], True)
        return cls(knots=knots[piece_end], values=values[piece_end])

    def __call__(self, covariate):
        """Value at the smallest knot >= each entry of `covariate` (the last knot beyond it)."""
        position = np.searchsorted(self.knots, covariate, side="left")
        return self.values[np.minimum(position, len(self.knots) - 1)]
