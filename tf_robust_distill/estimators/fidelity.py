"""Fidelity weighting of teacher labels by the teacher's uncertainty.

The baseline of Dehghani, Mehrjou, Gouws, Kamps, Schoelkopf. Fidelity-Weighted Learning.
ICLR 2018, as used in SLaM (Kontonis et al., NeurIPS 2023) App. D.4 and in Weighted
Distillation with Unlabeled Examples (Iliopoulos et al., NeurIPS 2022) App. C.3.
"""

import numpy as np

from tf_robust_distill import checks


def augmentation_variance(view_probs):
    """Teacher uncertainty from augmented views: [V, N, C] probabilities -> [N].

    SLaM App. D.4: the coordinate-wise variance of the teacher's soft labels over the V random
    augmentations of an example, averaged over the C classes. The population variance (ddof=0)
    is used; any constant factor cancels in `fidelity_weights`, which divides by the mean.
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

    SLaM App. D.4 (w = exp(-beta uncertainty), the uncertainty normalized by the teacher's
    uncertainty over the whole teacher-labeled set) and Weighted Distillation App. C.3
    (beta = 1 with u the teacher's entropy, `prediction_entropy`). The mean is used as in
    App. C.3; dividing by the total instead would only rescale beta. Weights lie in (0, 1].
    If every uncertainty is 0 the teacher is certain everywhere and every weight is 1.
    Labeled examples are not passed here; the caller gives them weight 1.
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
