"""Every objective, trained with the callbacks that update its state, survives .keras."""

import every_objective
import pytest
from support.round_trip import assert_round_trip


@pytest.mark.parametrize("name", sorted(every_objective.CASES))
def test_save_load_keeps_config_variables_predictions_and_next_step(tmp_path, name):
    model, _ = every_objective.train(name, epochs=1)
    x, targets = every_objective.data(every_objective.BATCH_SIZE, seed=7)
    assert_round_trip(model, tmp_path / f"{name}.keras", x, targets)
