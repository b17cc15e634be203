"""The numpy softmax, for probabilities computed on the host (teacher labels, temperature
scaling, the weighted student's re-estimation). The bottom floor: it imports nothing of the
package but `checks`."""

import numpy as np
from scipy import special

from tf_robust_distill.checks import check_temperature


def softmax(logits, temperature=1.0):
    """softmax(f / T) along the last axis, in float64 (max-subtracted, so it cannot overflow).

    Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network (2015), eq. (1):
    q_i = exp(z_i / T) / Σ_j exp(z_j / T).
    """
    temperature = check_temperature(temperature)
    return special.softmax(np.asarray(logits, np.float64) / temperature, axis=-1)
