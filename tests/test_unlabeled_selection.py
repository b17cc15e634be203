"""The unlabeled grid's searches: options set where the run reads them, H held out of
everything, the coordinate search's winners, the paired differences of the summary."""

import numpy as np
import pytest
import scipy.stats
from scipy import special

from configs import unlabeled_distill as unlabeled_config
from experiments import unlabeled_distill as experiment
from experiments import unlabeled_summary
from tf_robust_distill import data, reporting
from tf_robust_distill.grid import cell_key
from tf_robust_distill.pipeline import unlabeled
from tf_robust_distill.pipeline.unlabeled import holdout, search


def _smoke(**overrides):
    config = unlabeled_config.get_config("smoke")
    config.update_from_flattened_dict(overrides)
    return config


def test_options_are_set_where_the_student_reads_them():
    config = _smoke()
    cell = {
        "num_labeled": 300,
        "labels": "soft",
        "objective": "slam_fidelity",
        "search": "slam_fidelity options",
        "options": {"temperature": 2.0, "fidelity_beta": 5.0, "normalize": True},
    }
    run = experiment.cell_config(config, cell)
    assert run.student.temperature == 2.0
    assert run.unlabeled.fidelity_beta == 5.0
    assert run.student.objective_kw.normalize is True
    # A search run: the search's own split, half of |V| = 100 held out.
    assert (run.unlabeled.trial, run.unlabeled.holdout_size) == (1000, 50)
    del cell["search"]
    reported = experiment.cell_config(config, {**cell, "trial": 3})
    assert (reported.unlabeled.trial, reported.unlabeled.holdout_size) == (3, None)


def test_coordinate_search_chooses_the_temperature_then_the_options_at_it():
    """Stage 1 scores every t_B at the config's options; stage 2 every ε at the winning t_B.
    The metric is read from each candidate's result on H; NLL is lower-is-better."""
    config = _smoke(**{"selection.temperatures": (1.0, 2.0, 5.0), "selection.metric": "nll"})
    config.selection.spaces["poly"] = {"epsilon": (-1.0, 2.0)}
    nll = {
        (("temperature", 1.0),): 0.9,
        (("temperature", 2.0),): 0.5,
        (("temperature", 5.0),): 0.7,
        (("epsilon", -1.0), ("temperature", 2.0)): 0.6,
        (("epsilon", 2.0), ("temperature", 2.0)): 0.4,
        (("epsilon", -1.0),): 0.3,
        (("epsilon", 2.0),): 0.8,
    }
    seen = []

    def results(cells):
        seen.append(cells)
        return [
            {"holdout": {"nll": nll[tuple(sorted(cell["options"].items()))], "accuracy": 0.0}}
            for cell in cells
        ]

    cell = {"num_labeled": 300, "labels": "soft", "objective": "poly"}
    options, records = search.choose(config, cell, results)
    assert options == {"temperature": 2.0, "epsilon": 2.0}
    assert [c["options"] for c in seen[1]] == [
        {"temperature": 2.0, "epsilon": -1.0},
        {"temperature": 2.0, "epsilon": 2.0},
    ]
    assert [record["winner"] for record in records] == [{"temperature": 2.0}, {"epsilon": 2.0}]
    assert records[1]["fixed"] == {"temperature": 2.0} and records[1]["winner_score"] == 0.4
    # Hard labels are one-hot at every temperature: only the options are searched.
    hard = search.choose(config, {**cell, "labels": "hard"}, results)
    assert [record["name"] for record in hard[1]] == ["poly options"]
    assert hard[0] == {"epsilon": -1.0}
    # A report of stored cells only: an unfinished search chooses nothing.
    assert search.choose(config, cell, lambda cells: None) is None


def test_holdout_is_drawn_from_v_and_kept_out_of_training_and_estimators():
    config = _smoke(**{"unlabeled.holdout_size": 30, "unlabeled.trial": 2})
    context = unlabeled.prepare(config)
    split = unlabeled.trial_split(config, context)
    reduced, held = holdout.hold_out(split, context.splits.train, 30, 2)
    again = holdout.hold_out(split, context.splits.train, 30, 2)[1]
    np.testing.assert_array_equal(held, again)  # a function of the trial
    assert len(held) == 30 and np.all(np.isin(held, split.validation_positions))
    np.testing.assert_array_equal(
        np.sort(np.concatenate([held, reduced.validation_positions])), split.validation_positions
    )
    assert int(reduced.validation.cardinality()) == len(split.validation_positions) - 30

    logits = np.random.default_rng(0).normal(size=(context.num_examples("train"), 10))
    stage = unlabeled.LabeledStage(
        teacher=None,
        teacher_labels=data.TeacherLabels(logits.astype(np.float32), "random"),
        teacher_directory="",
        student_checkpoint="",
        reports={},
    )
    training_set = unlabeled.StudentTrainingSet(config, context, reduced, stage)
    assert not np.any(np.isin(training_set.positions, held))
    update = training_set.debiasing_update()
    soft = special.softmax(logits.astype(np.float32).astype(np.float64), axis=1)
    np.testing.assert_allclose(
        update.teacher_probs_validation, soft[reduced.validation_positions], atol=1e-6
    )


def test_a_holdout_that_leaves_v_too_small_is_refused():
    with pytest.raises(ValueError, match="holdout_size must be None or an integer"):
        unlabeled.check_settings(_smoke(**{"unlabeled.holdout_size": 99}))
    with pytest.raises(ValueError, match="validation_size - holdout_size = 40"):
        unlabeled.check_settings(
            _smoke(**{"unlabeled.holdout_size": 60, "unlabeled.weights_num_neighbors": 25})
        )


@pytest.mark.parametrize("n", [2, 5])
def test_paired_p_value_is_the_paired_t_test(n):
    rng = np.random.default_rng(n)
    baseline = rng.normal(size=n)
    values = baseline + 0.3 + 0.2 * rng.normal(size=n)
    expected = scipy.stats.ttest_rel(values, baseline).pvalue
    assert reporting.paired_p_value(values, baseline) == pytest.approx(expected, rel=1e-10)
    assert reporting.format_paired_test(values, baseline).endswith(f"p = {expected:.3f}")
    assert np.isnan(reporting.paired_p_value(values[:1], baseline[:1]))


def _fake_result(accuracy):
    return {
        "student": {"test": {"accuracy": accuracy}},
        "best_test_accuracy": accuracy,
        "teacher": {"test": {"accuracy": 0.5}},
        "pretrained_student": {"test": {"accuracy": 0.4}},
    }


def test_summary_pairs_every_objective_with_vanilla_by_trial():
    config = _smoke(**{"grid.trials": (0, 1, 2), "grid.labels": ("soft",)})
    plan = experiment.plan(config)
    vanilla = {0: 0.70, 1: 0.72, 2: 0.71}
    slam = {0: 0.73, 1: 0.725, 2: 0.74}
    results = {}
    for cell in plan.cells():
        by_trial = slam if cell["objective"] == "slam" else vanilla
        results[cell_key(cell)] = _fake_result(by_trial[cell["trial"]])
    text = unlabeled_summary.summary(plan, results, config)
    trials = (0, 1, 2)
    expected = reporting.format_paired_test(
        [100 * slam[t] for t in trials], [100 * vanilla[t] for t in trials], digits=2
    )
    assert f"| slam − vanilla | {expected} |" in text


def test_summary_pairs_slam_fidelity_with_fidelity_alone():
    config = _smoke(
        **{
            "grid.trials": (0, 1),
            "grid.labels": ("soft",),
            "grid.objectives": ("vanilla", "fidelity", "slam_fidelity"),
            "grid.weights_schedules": (),
        }
    )
    config.selection.spaces = {}
    plan = experiment.plan(config)
    accuracy = {"vanilla": (0.70, 0.72), "fidelity": (0.71, 0.75), "slam_fidelity": (0.74, 0.76)}
    results = {
        cell_key(cell): _fake_result(accuracy[cell["objective"]][cell["trial"]])
        for cell in plan.cells()
    }
    text = unlabeled_summary.summary(plan, results, config)
    expected = reporting.format_paired_test([74.0, 76.0], [71.0, 75.0], digits=2)
    assert f"| slam_fidelity (entropy) − fidelity (entropy) | {expected} |" in text


@pytest.mark.parametrize("uncertainty", ["entropy", "augmentation_variance"])
def test_rows_with_fidelity_weights_name_their_uncertainty(uncertainty):
    config = _smoke(**{"unlabeled.fidelity_uncertainty": uncertainty})
    label = uncertainty.replace("_", " ")
    assert experiment.row_name(config, "fidelity") == f"fidelity ({label})"
    assert experiment.row_name(config, "slam_fidelity") == f"slam_fidelity ({label})"
    assert experiment.row_name(config, "slam") == "slam"
    config.grid.objective_kw.use_fidelity_weights = True  # an option of taylor_ce
    assert experiment.row_name(config, "taylor_ce") == f"taylor_ce ({label})"


@pytest.mark.parametrize("sizes", [(2, 5), (5, 3)])
def test_welch_difference_is_scipy_welch_test(sizes):
    rng = np.random.default_rng(sum(sizes))
    values, other = rng.normal(1.0, 0.5, sizes[0]), rng.normal(0.2, 0.3, sizes[1])
    expected = scipy.stats.ttest_ind(values, other, equal_var=False)
    mean, stderr = reporting.independent_difference(values, other)
    assert mean == pytest.approx(values.mean() - other.mean())
    assert mean / stderr == pytest.approx(expected.statistic)
    assert reporting.welch_p_value(values, other) == pytest.approx(expected.pvalue, rel=1e-10)
    assert np.isnan(reporting.welch_p_value(values[:1], other))


def test_summary_compares_the_gains_of_the_smallest_and_largest_size():
    config = _smoke(**{"grid.trials": (0, 1, 2), "grid.labels": ("soft",)})
    config.grid.num_labeled = (1200, 300, 600)
    config.selection.spaces = {}
    config.grid.weights_schedules = ()
    plan = experiment.plan(config)
    vanilla = {0: 0.70, 1: 0.72, 2: 0.71}
    gains = {300: (0.03, 0.01, 0.05), 600: (0.0, 0.0, 0.01), 1200: (0.01, -0.005, 0.0)}
    results = {}
    for cell in plan.cells():
        gain = gains[cell["num_labeled"]][cell["trial"]] if cell["objective"] == "slam" else 0
        results[cell_key(cell)] = _fake_result(vanilla[cell["trial"]] + gain)
    text = unlabeled_summary.summary(plan, results, config)
    smallest = 100 * np.array(gains[300])
    largest = 100 * np.array(gains[1200])
    expected = reporting.format_welch_test(smallest, largest, digits=2)
    assert "| difference | 1200 | 300 | 600 | 300 − 1200 |" in text
    assert f"{expected} |" in text.split("| slam − vanilla |")[1].splitlines()[0]


def test_temperature_ablation_pairs_each_method_at_its_best_pair_with_vanilla_at_its_own():
    config = _smoke(
        **{
            "grid.labels": ("soft",),
            "grid.trials": (0, 1, 2),
            "grid.temperature_ablation.num_labeled": (300,),
            "grid.temperature_ablation.temperatures": (0.5, 2.0),
        }
    )
    plan = experiment.plan(config)
    best = {"vanilla": (2.0, 0.5), "slam": (0.5, 2.0)}
    by_trial = {"vanilla": (0.70, 0.74, 0.71), "slam": (0.72, 0.77, 0.72)}

    def accuracy(cell):
        if not experiment.in_temperature_ablation(cell):
            return 0.5
        objective, trial = cell["objective"], cell["trial"]
        at_best = (cell["t_A"], cell["t_B"]) == best[objective]
        return by_trial[objective][trial] if at_best else 0.6

    results = {cell_key(cell): _fake_result(accuracy(cell)) for cell in plan.cells()}
    text = unlabeled_summary.summary(plan, results, config)
    expected = reporting.format_paired_test([72.0, 77.0, 72.0], [70.0, 74.0, 71.0], digits=2)
    assert f"- 300 labels, slam − vanilla, each at its best pair: {expected}" in text
