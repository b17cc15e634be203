"""Every objective is XLA-compilable: a jit-compiled fit gives the same weights and state.

Two epochs of SGD (with the multiplier updates of the DRO objectives, SoTeacher's
buffer and consistency weight, the debiasing weights) under ``jit_compile=True`` and
``False`` end with the same variables, λ and buffers included, and the same logs.
Three cases are tested where their objectives are: StandardModel on teacher
probabilities (tests/test_objectives_base.py), FitNets and attention transfer
(tests/test_feature_distillation.py).
"""

import numpy as np
import pytest
from every_objective import CASES, train, variables

TESTED_ELSEWHERE = ("std_distill", "fitnets", "at")


@pytest.mark.parametrize("name", [name for name in CASES if name not in TESTED_ELSEWHERE])
def test_jit_compile_gives_the_same_variables_and_logs(name):
    eager, eager_history = train(name, jit_compile=False)
    jit, jit_history = train(name, jit_compile=True)
    assert jit.jit_compile is True, "Keras fell back to jit_compile=False"
    eager_variables, jit_variables = variables(eager), variables(jit)
    assert [name for name, _ in eager_variables] == [name for name, _ in jit_variables]
    for (name, a), (_, b) in zip(eager_variables, jit_variables, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5, err_msg=name)
    assert eager_history.keys() == jit_history.keys()
    for key, values in eager_history.items():
        np.testing.assert_allclose(jit_history[key], values, rtol=1e-5, atol=1e-6, err_msg=key)
    if hasattr(eager, "multipliers"):
        assert np.ptp(np.asarray(eager.multipliers.current())) > 1e-3, "λ should have moved"
