"""Exponentiated-gradient (EG) ascent on the probability simplex, in log space.

Wang et al., "Robust Distillation for Worst-class Performance", Algorithms 1–3: the
multipliers λ ∈ Δ_m of the robust objective take EG steps on per-class risks R; the
post-shift baseline (Narasimhan & Menon 2021, Algorithm 3) searches its class weights γ
with the same rule. The functions run on numpy arrays (the default ``xp=numpy``) and,
unchanged, on tensors inside a compiled step (``xp=keras.ops``), which the DRO
objectives pass; this module imports neither TensorFlow nor Keras.
"""

import numpy as np


def log_normalize(log_weights, *, xp=np):
    """log of weights scaled to sum to one: z − log Σ_j exp(z_j), computed without overflow."""
    centered = log_weights - xp.max(log_weights)
    return centered - xp.log(xp.sum(xp.exp(centered)))


def exponentiated_gradient_step(log_multipliers, risks, step_size, *, xp=np):
    """One EG ascent step on the simplex, in log space (Algorithm 1; Algorithm 3).

    λ̃_j = λ_j exp(γ R_j),  λ_j ← λ̃_j / Σ_k λ̃_k,

    done on log λ: log λ ← log_normalize(log λ + γ R), so risks of any size give finite
    multipliers (exp(γ R) alone overflows float32 for γ R > 88). Algorithm 3 (the
    trade-off objective with parameter α) takes the step γ·α: pass ``step_size=γ·α``.

    Args:
      log_multipliers: [m] log λ of multipliers on the simplex.
      risks: [m] per-class risks R.
      step_size: γ ≥ 0.
      xp: ``numpy`` or ``keras.ops``.

    Returns:
      [m] log of the new multipliers.
    """
    return log_normalize(log_multipliers + step_size * risks, xp=xp)
