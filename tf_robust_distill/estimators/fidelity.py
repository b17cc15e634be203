"""Fidelity weighting of teacher labels by the teacher's uncertainty.

The baseline of Dehghani, Mehrjou, Gouws, Kamps, Schoelkopf. Fidelity-Weighted Learning.
ICLR 2018, as used in SLaM (Kontonis et al., NeurIPS 2023) App. D.4 and in Weighted
Distillation with Unlabeled Examples (Iliopoulos et al., NeurIPS 2022) App. C.3.
"""

import numpy as np

from tf_robust_distill import checks


def augmentation_variance(view_probs):
    """Teacher uncertainty from augmented views: [V, N, C] probabilities -> [N].

    SLaM App. D.4: "we performed 10 random data augmentations (random crop and resize),
    estimated the coordinate-wise variance of the resulting teacher soft-labels, and finally
    computed the average of the variances of the k-classes": the variance over the V views
    of each class's probability, averaged over the C classes. The population variance
    (ddof=0) is used; a constant factor cancels in `fidelity_weights`, which divides by the
    mean. The unlabeled job computes the views in `pipeline.unlabeled.teacher_uncertainty`.
    """
    view_probs = np.asarray(view_probs)
    if view_probs.ndim != 3 or view_probs.shape[0] < 2:
        raise ValueError(
            "view_probs must be a [num_views, num_examples, num_classes] array with at least "
            f"2 views, got shape {view_probs.shape}."
        )
    for view in view_probs:
        checks.as_probabilities(view, "each view of view_probs")
    return view_probs.var(axis=0).mean(axis=1)


def fidelity_weights(uncertainty, beta):
    """w(x) = exp(-beta * u(x) / mean_x u(x)) for per-example uncertainties u [N] -> [N].

    Two sources, two uncertainties u: Weighted Distillation App. C.3 gives
    w(x) = exp(-entropy(x) / mean entropy), "the average entropy of the teacher's
    predictions over all training examples" (beta = 1, u = `prediction_entropy`); SLaM
    App. D.4 gives w(x) = exp(-beta uncertainty(x)) with u the variance over augmented
    views (`augmentation_variance`), "normalized ... by the total uncertainty of the
    teacher over the whole dataset B", and sweeps beta over {0.1, 0.2, 1.0, 1.2, 2.0, 5.0,
    10.0, 20.0}. The divisor here is the mean, as App. C.3 states. The total is |B| times
    the mean: divided by it, an example of average uncertainty would get exp(-beta / |B|),
    within 20 / |B| of 1 for every beta of that sweep (no reweighting at all), so we read
    D.4's "total" as the mean.
    Weights lie in (0, 1]. If every uncertainty is 0 the teacher is certain everywhere and
    every weight is 1. Labeled examples are not passed here; the caller gives them weight 1.
    """
    uncertainty = np.asarray(uncertainty, dtype=np.float64)
    if uncertainty.ndim != 1 or uncertainty.size == 0:
        raise ValueError(
            f"uncertainty must be a non-empty 1-D array, got shape {uncertainty.shape}."
        )
    if not np.all(np.isfinite(uncertainty)) or uncertainty.min() < 0:
        raise ValueError(
            "uncertainty must be finite and non-negative; got values in "
            f"[{uncertainty.min()}, {uncertainty.max()}]."
        )
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}.")
    mean = uncertainty.mean()
    if mean == 0:
        return np.ones_like(uncertainty)
    return np.exp(-beta * uncertainty / mean)
