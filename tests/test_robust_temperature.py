"""Temperature selection on validation worst-class accuracy."""

import pytest

from tf_robust_distill.temperature import candidate_temperatures, select_temperature


def test_candidates_follow_the_validation_labels():
    assert candidate_temperatures("one_hot") == (1.0, 3.0, 5.0)
    assert candidate_temperatures("teacher") == (0.1, 1.0, 3.0, 5.0)
    with pytest.raises(ValueError, match="validation_labels"):
        candidate_temperatures("soft")


def test_selects_the_best_validation_result_from_a_dict():
    assert select_temperature({1.0: 0.40, 3.0: 0.55, 5.0: 0.50}) == 3.0
    assert select_temperature({0.1: 0.6, 1.0: 0.4, 3.0: 0.5}, temperatures=(1.0, 3.0)) == 3.0


def test_ties_go_to_the_first_candidate():
    assert select_temperature({5.0: 0.5, 1.0: 0.5}) == 5.0


def test_a_callable_is_evaluated_once_per_candidate():
    calls = []

    def worst_class_accuracy(temperature):
        calls.append(temperature)
        return {0.1: 0.7, 1.0: 0.3, 3.0: 0.5, 5.0: 0.6}[temperature]

    assert select_temperature(worst_class_accuracy) == 5.0
    assert select_temperature(worst_class_accuracy, candidate_temperatures("teacher")) == 0.1
    assert calls == [1.0, 3.0, 5.0, 0.1, 1.0, 3.0, 5.0]


@pytest.mark.parametrize("temperatures", [(1.0, 0.0), (-1.0,), ()])
def test_non_positive_or_no_temperature_is_a_value_error(temperatures):
    with pytest.raises(ValueError):
        select_temperature(lambda temperature: 0.5, temperatures)


def test_missing_or_nan_results_are_value_errors():
    with pytest.raises(ValueError, match="no validation result"):
        select_temperature({1.0: 0.5}, temperatures=(1.0, 3.0))
    with pytest.raises(ValueError, match="NaN"):
        select_temperature({1.0: float("nan")})


def test_results_of_the_wrong_type_are_a_type_error():
    with pytest.raises(TypeError):
        select_temperature([0.5, 0.6])
