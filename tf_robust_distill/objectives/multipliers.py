"""Per-class multipliers of margin-based DRO: the math of Algorithms 1–3, as pure functions.

Wang et al., "Robust Distillation for Worst-class Performance". The robust objective
max_y R_y(f) is solved as min_f max_{λ ∈ Δ_m} Σ_y λ_y R_y(f): the multipliers λ take
exponentiated-gradient (EG) ascent steps on per-class risks R measured on a validation
set (Algorithm 1 with teacher labels, Algorithm 2 / eq. (10) with one-hot labels), and f
minimizes the margin loss with costs β/π̂ (Algorithm 3; β = λ for the robust objective).

The EG step itself is `estimators.exponentiated_gradient` (numpy by default, shared with
the post-shift baseline); the DRO objectives run it on tensors with ``xp=keras.ops``.
Functions that take ``xp`` run on numpy arrays (``xp=numpy``) and on tensors inside a
compiled step (``xp=keras.ops``) with the same code. ``class_losses`` and ``class_sums``
are tensor functions (they run in the model's validation pass and training step).
"""

import keras

RISKS = ("zero_one", "xent")
VALIDATION_LABELS = ("one_hot", "teacher")


def tradeoff_weights(multipliers, alpha):
    """β = (1 − α)/m + α·λ, the per-class weights of the trade-off objective (Algorithm 3).

    α = 0 gives uniform weights (the balanced objective), α = 1 gives λ (the robust one).
    """
    num_classes = multipliers.shape[-1]
    return (1.0 - alpha) / num_classes + alpha * multipliers


def margin_costs(weights, class_priors):
    """Costs c = β/π̂ of the margin loss in the f-step of Algorithms 1–3 (eq. (9)).

    With β uniform this is 1/π̂ up to a constant factor, which the margin loss ignores
    (softmax cross-entropy does not change when every logit moves by the same amount).
    """
    return weights / class_priors


def class_losses(logits, risk):
    """ℓ(j, f(x_i)) for every example i and every class j, shape [batch, m].

    ``risk='zero_one'``: 1[argmax_k f_k(x_i) ≠ j], the loss used for the λ-updates in
    practice (App. E.3.1); ``risk='xent'``: −log softmax(f(x_i))_j.
    """
    logits = keras.ops.cast(logits, "float32")
    num_classes = logits.shape[-1]
    if risk == "zero_one":
        predicted = keras.ops.one_hot(keras.ops.argmax(logits, axis=-1), num_classes)
        return 1.0 - predicted
    if risk == "xent":
        return -keras.ops.log_softmax(logits, axis=-1)
    raise ValueError(f"risk must be one of {RISKS}, got {risk!r}")


def class_sums(weights, losses):
    """(Σ_i w_ij ℓ(j, f(x_i)), Σ_i w_ij) per class j: the sufficient statistics of the risks.

    Both are sums over examples, so batches and replicas add up exactly.

    Args:
      weights: [batch, m] class memberships w_ij: teacher probabilities p^t_j(x_i) or
        one-hot labels 1(y_i = j).
      losses: [batch, m] ``class_losses``.
    """
    weights = keras.ops.cast(weights, "float32")
    return keras.ops.sum(weights * losses, axis=0), keras.ops.sum(weights, axis=0)


def per_class_risks(loss_sums, weight_sums, *, xp):
    """R_j = (1/π̂_j)(1/n) Σ_i w_ij ℓ(j, f(x_i)) = loss_sums_j / weight_sums_j.

    With teacher labels (w_ij = p^t_j(x_i)) this is R̂_j of Algorithm 1, π̂_j being the
    teacher's marginal (1/n) Σ_i p^t_j(x_i); with one-hot labels it is eq. (10) /
    Algorithm 2, π̂_j being the class frequency. A class with zero weight gets risk 0
    (Sagawa et al.'s convention for a group absent from a batch); callers that need
    every class present check ``weight_sums`` first.
    """
    present = weight_sums > 0
    return xp.where(present, loss_sums / xp.where(present, weight_sums, 1.0), 0.0)
