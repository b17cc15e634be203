"""Per-example confidence scores of a probability vector: margin and entropy."""

import numpy as np
from scipy import special


def margin(probs):
    """Top-1 minus top-2 probability of each row of `probs` [N, C] -> [N].

    The "margin-score" confidence of Iliopoulos et al., Weighted Distillation with
    Unlabeled Examples (NeurIPS 2022), Sec. 2.3, and margin(p) = max_1 p - max_2 p of
    Kontonis et al., SLaM (NeurIPS 2023), App. A. Larger means more confident.
    """
    top_two = np.partition(probs, probs.shape[1] - 2, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def prediction_entropy(probs):
    """Shannon entropy -sum_c p_c log p_c (nats, 0 log 0 = 0) of each row of `probs` [N, C] -> [N].

    The entropy confidence of Weighted Distillation with Unlabeled Examples, Sec. 2.3 and 3.2,
    and the teacher uncertainty of its fidelity-weighting baseline, App. C.3.
    Larger means less confident.
    """
    return special.entr(probs).sum(axis=1)
