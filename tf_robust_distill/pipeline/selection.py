"""Validation-driven selection of hyperparameters: a grid of named options, scored on V.

The papers pick several hyperparameters by a search (SLaM App. D.1: the VID coefficient,
PolyLoss's ε, weighted distillation's refresh interval; robust distillation §6: T and
α^t/α^s on validation). `select` trains one candidate per point of the grid, scores each
on a validation set by one named metric, and returns the record a results file keeps:
the search's name, the metric, every candidate with its score, and the winner.
"""

import itertools
import math

HIGHER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "worst1_accuracy": True,
    "worstk_accuracy": True,
    "nll": False,
    "ece": False,
}
"""The metrics of `evaluation.classification_report` a search may be scored by, and
whether a larger value is better."""


def metric_direction(metric):
    """True if a larger `metric` is better; a ValueError naming the metrics for another."""
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(
            f"unknown selection metric {metric!r}; choose one of {', '.join(HIGHER_IS_BETTER)}"
        )
    return HIGHER_IS_BETTER[metric]


def grid_candidates(options):
    """Every combination of `options` ({name: [values]}), in the grid's order, as dicts."""
    names = list(options)
    for name in names:
        if not len(options[name]):
            raise ValueError(f"option {name!r} has no candidate values")
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]


class NoEligibleCandidate(ValueError):
    """No candidate of a search meets its floor."""


def select(name, options, train_and_score, metric, higher_is_better=True, floor=None):
    """Train and score every candidate of `options`; the best score wins (first on ties).

    Args:
      name: what is selected (recorded), e.g. "vid coefficient".
      options: {option: [candidate values]}; the grid is their product.
      train_and_score: candidate dict -> {metric: value, ...} on the validation set.
      metric: the key of the returned scores that decides (e.g. "accuracy").
      higher_is_better: False for a loss.
      floor: None, or (metric, minimum): only candidates whose score of that metric is at
        least `minimum` compete (robust distillation §6's rule: the best validation
        worst-class accuracy among students whose balanced accuracy is at least that of
        standard distillation).

    Returns:
      {"name", "metric", "higher_is_better", "candidates": [dict], "scores": [float],
      "winner": dict, "winner_score": float}: JSON-able; with a floor also "floor"
      [metric, minimum] and "eligible": [bool].

    Raises:
      ValueError: no candidates, a score without `metric` (or the floor's metric), or no
        finite score; NoEligibleCandidate (a ValueError) if none meets the floor.
    """
    candidates = grid_candidates(options)
    if not candidates:
        raise ValueError(f"{name}: no candidates")
    needed = [metric] if floor is None else [metric, floor[0]]
    scores, eligible = [], []
    for candidate in candidates:
        result = train_and_score(dict(candidate))
        missing = [key for key in needed if key not in result]
        if missing:
            raise ValueError(
                f"{name}: the score of {candidate} has no {missing[0]!r}; it has {sorted(result)}"
            )
        scores.append(float(result[metric]))
        eligible.append(floor is None or float(result[floor[0]]) >= floor[1])
    finite = [i for i, score in enumerate(scores) if math.isfinite(score)]
    if not finite:
        raise ValueError(f"{name}: no candidate has a finite {metric}: {scores}")
    competing = [i for i in finite if eligible[i]]
    if not competing:
        raise NoEligibleCandidate(f"{name}: no candidate has {floor[0]} >= {floor[1]}")
    sign = 1.0 if higher_is_better else -1.0
    best = max(competing, key=lambda i: (sign * scores[i], -i))
    record = {
        "name": name,
        "metric": metric,
        "higher_is_better": bool(higher_is_better),
        "candidates": candidates,
        "scores": scores,
        "winner": candidates[best],
        "winner_score": scores[best],
    }
    if floor is not None:
        record.update(floor=[floor[0], float(floor[1])], eligible=eligible)
    return record
