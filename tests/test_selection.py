"""Validation-driven selection: every grid point scored once, the best one recorded."""

import math

import pytest

from tf_robust_distill.pipeline import selection


def test_grid_is_the_product_of_the_options_in_order():
    grid = selection.grid_candidates({"T": [1, 2], "alpha": [0.0, 0.5, 1.0]})
    assert grid == [{"T": t, "alpha": a} for t in (1, 2) for a in (0.0, 0.5, 1.0)]


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_best_score_wins_and_every_candidate_is_recorded(higher_is_better):
    calls = []

    def score(candidate):
        calls.append(candidate)
        return {"accuracy": -((candidate["epsilon"] - 1.0) ** 2), "loss": candidate["epsilon"]}

    epsilons = [-1.0, 0.5, 1.0, 2.0, math.nan]
    metric = "accuracy" if higher_is_better else "loss"
    result = selection.select(
        "poly epsilon", {"epsilon": epsilons}, score, metric, higher_is_better
    )
    assert [c["epsilon"] for c in calls[:4]] == epsilons[:4] and math.isnan(calls[4]["epsilon"])
    assert result["winner"] == {"epsilon": 1.0 if higher_is_better else -1.0}
    assert result["candidates"] == calls and len(result["scores"]) == 5
    assert result["name"] == "poly epsilon" and result["metric"] == metric


def test_ties_go_to_the_first_candidate_and_bad_scores_are_refused():
    tied = selection.select("k", {"k": [3, 5, 7]}, lambda c: {"accuracy": 0.5}, "accuracy")
    assert tied["winner"] == {"k": 3}
    with pytest.raises(ValueError, match="has no 'accuracy'"):
        selection.select("k", {"k": [3]}, lambda c: {"loss": 1.0}, "accuracy")
    with pytest.raises(ValueError, match="no candidate values"):
        selection.select("k", {"k": []}, lambda c: {"accuracy": 1.0}, "accuracy")
    with pytest.raises(ValueError, match="finite"):
        selection.select("k", {"k": [3]}, lambda c: {"accuracy": math.nan}, "accuracy")


def test_a_floor_leaves_only_the_candidates_that_meet_it():
    # Robust distillation §6: the best worst-class accuracy among the candidates whose
    # balanced accuracy is at least standard distillation's (here 0.70).
    scores = {0.25: (0.40, 0.72), 0.5: (0.55, 0.69), 0.75: (0.50, 0.70), 1.0: (0.45, 0.80)}

    def score(candidate):
        worst, balanced = scores[candidate["alpha"]]
        return {"worst1_accuracy": worst, "balanced_accuracy": balanced}

    floor = ("balanced_accuracy", 0.70)
    result = selection.select(
        "alpha", {"alpha": list(scores)}, score, "worst1_accuracy", floor=floor
    )
    assert result["winner"] == {"alpha": 0.75}  # 0.5 is better but below the floor
    assert result["eligible"] == [True, False, True, True]
    assert result["floor"] == ["balanced_accuracy", 0.70]
    assert "eligible" not in selection.select("alpha", {"alpha": [0.5]}, score, "worst1_accuracy")
    with pytest.raises(selection.NoEligibleCandidate, match="balanced_accuracy >= 0.9"):
        selection.select(
            "alpha",
            {"alpha": list(scores)},
            score,
            "worst1_accuracy",
            floor=("balanced_accuracy", 0.9),
        )
    with pytest.raises(ValueError, match="has no 'nll'"):
        selection.select("alpha", {"alpha": [0.5]}, score, "worst1_accuracy", floor=("nll", 1.0))
