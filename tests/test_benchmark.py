"""The pure pieces of experiments.benchmark: exponent fit, buffer formula, ratios, step timer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments.benchmark import cached_teacher, estimator_scaling, soteacher_buffer, timing
from experiments.benchmark.__main__ import run
from experiments.benchmark.report import markdown_report
from experiments.benchmark.settings import QUICK
from experiments.benchmark.step_ratios import TARGET_STEP_RATIO, step_table
from tf_robust_distill import nets


def test_growth_exponent_recovers_a_power_law():
    sizes = [1e4, 3e4, 1e5, 1e6]
    for exponent in (0.5, 1.0, 1.3):
        seconds = [2e-6 * size**exponent for size in sizes]
        assert estimator_scaling.growth_exponent(sizes, seconds) == pytest.approx(
            exponent, abs=1e-9
        )


def test_growth_exponent_is_a_least_squares_slope_through_noise():
    sizes = np.array([1e4, 1e5, 1e6])
    seconds = 3e-7 * sizes * np.array([1.1, 0.9, 1.05])
    slope = np.polyfit(np.log(sizes), np.log(seconds), 1)[0]
    assert estimator_scaling.growth_exponent(sizes, seconds) == pytest.approx(slope)


@pytest.mark.parametrize("buffer_dtype", ["float32", "float16"])
def test_buffer_formula_matches_the_variables_of_a_built_model(buffer_dtype):
    model = soteacher_buffer.soteacher_model(37, 7, buffer_dtype)
    expected = 37 * 7 * {"float32": 4, "float16": 2}[buffer_dtype] + 37 * 4
    assert soteacher_buffer.built_buffer_bytes(model) == expected
    assert soteacher_buffer.soteacher_buffer_bytes(37, 7, buffer_dtype) == expected


def test_buffer_rows_give_imagenet_sizes():
    rows = {(r["num_examples"], r["buffer_dtype"]): r for r in soteacher_buffer.soteacher_buffer()}
    assert rows[(1_281_167, "float16")]["bytes"] == 1_281_167 * (1000 * 2 + 4)
    assert rows[(10_000, "float32")]["built_bytes"] == rows[(10_000, "float32")]["bytes"]


def test_median_ratio_pairs_repetitions():
    # Pairing matters: load slows both sides of repetition 1 alike.
    objective = [1.02, 2.04, 1.03]
    keras_baseline = [1.00, 2.00, 1.00]
    assert timing.median_ratio(objective, keras_baseline) == pytest.approx(1.02)
    assert np.median(objective) / np.median(keras_baseline) == pytest.approx(1.03)


def test_median_ratio_refuses_unpaired_timings():
    with pytest.raises(ValueError, match="paired"):
        timing.median_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="paired"):
        timing.median_ratio([], [])


def test_compare_reports_each_clock():
    numerator = {"wall": [2.0, 4.0, 3.0], "cpu": [1.0, 1.0, 1.0]}
    denominator = {"wall": [1.0, 2.0, 1.0], "cpu": [1.0, 2.0, 0.5]}
    summary = timing.compare(numerator, denominator)
    assert summary["wall"]["ratio"] == 2.0
    assert summary["cpu"]["ratio"] == 1.0
    assert summary["cpu"]["quartiles"] == [0.75, 1.5]
    assert summary["wall"]["numerator_ms"] == 3000.0


def test_rotated_starts_each_repetition_with_the_next_contender():
    assert [timing.rotated(["a", "b", "c"], r) for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def _tiny_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    return model


def test_step_timer_gives_positive_finite_times_for_every_clock():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, rng.integers(0, 2, 16))).batch(4)
    model, dataset = timing.warm_up(_tiny_model(), dataset)
    seconds = timing.interleaved_step_seconds({"tiny": (model, dataset)}, repetitions=2)
    assert set(seconds["tiny"]) == set(timing.CLOCKS)
    for values in seconds["tiny"].values():
        assert len(values) == 2
        assert np.all(np.isfinite(values)) and np.all(np.asarray(values) > 0)


def test_multiply_accumulates_of_the_mlp():
    net = nets.get("mlp", 10, (28, 28, 1), hidden_sizes=(8, 4))
    assert cached_teacher.multiply_accumulates(net) == 784 * 8 + 8 * 4 + 4 * 10


def _summary(ratio):
    return {"ratio": ratio, "quartiles": [ratio - 0.01, ratio + 0.01], "denominator_ms": 2.0}


def test_step_table_has_a_row_per_timed_objective_starring_misses():
    above = TARGET_STEP_RATIO + 0.01
    step = {"mlp": {"std": {c: _summary(1.0) for c in timing.CLOCKS}}}
    step["mlp"]["rob"] = {c: _summary(above) for c in timing.CLOCKS}
    jit = {
        "mlp": {name: {c: _summary(0.5) for c in timing.CLOCKS} for name in ("keras", "std", "rob")}
    }
    rows = [
        line.split(" | ") for line in step_table(step, jit).splitlines() if line.startswith("| ")
    ]
    assert [row[0] for row in rows[1:]] == ["| keras", "| std", "| rob"]
    assert rows[2][1] == timing.ratio_cell(_summary(1.0)) == "1.000 [0.99, 1.01]"
    assert rows[3][1] == f"{above:.3f} [{above - 0.01:.2f}, {above + 0.01:.2f}] *"
    assert rows[1][1] == "1"


def test_a_run_of_some_measurements_reports_only_those():
    results = run(QUICK, measurements=("soteacher_buffer",))
    assert "soteacher_buffer" in results
    assert not {"step_time_ratio", "cached_teacher_speedup", "estimator_scaling"} & set(results)
    text = markdown_report({**results, "command": "python -m experiments.benchmark"})
    assert "SoTeacher prediction buffer" in text and "Train-step time ratios" not in text
