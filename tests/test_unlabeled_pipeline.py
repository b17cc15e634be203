"""The unlabeled-distillation job on digits: grid, caches, the student's targets, its start."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
from scipy import special

from configs import unlabeled_distill as unlabeled_config
from experiments import unlabeled_distill as experiment
from experiments import unlabeled_summary
from tf_robust_distill import data, estimators, nets, reporting
from tf_robust_distill.grid import Grid, cell_key
from tf_robust_distill.pipeline import evaluation, unlabeled


def _smoke(**overrides):
    config = unlabeled_config.get_config("smoke")
    config.update_from_flattened_dict(overrides)
    return config


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke grid (vanilla and SLaM, one trial, soft and hard, weights once vs every epoch)."""
    workdir = tmp_path_factory.mktemp("smoke")
    return workdir, experiment.run_grid(_smoke(), str(workdir))


def _files(directory):
    return {
        os.path.join(root, name): os.path.getmtime(os.path.join(root, name))
        for root, _, names in os.walk(directory)
        for name in names
    }


def _stage(workdir, config):
    """The smoke grid's teacher and pre-trained student, loaded: nothing on disk is rewritten."""
    stored = _files(workdir / "runs")
    context = unlabeled.prepare(config)
    stage = unlabeled.labeled_stage(config, context, str(workdir / "runs"))
    assert {path: _files(workdir / "runs").get(path) for path in stored} == stored
    assert stage.student_checkpoint in stored
    return context, stage


@pytest.mark.slow  # the smoke grid's whole jobs
def test_smoke_grid_stores_every_cell_and_summarizes_them(smoke_run):
    workdir, summary = smoke_run
    config = _smoke()
    records = Grid(workdir).records()
    searched = [(cell, result) for cell, result in records if "search" in cell]
    reported = [(cell, result) for cell, result in records if "search" not in cell]
    # SLaM's lower bound in {0.5, 0.6}, soft and hard: 4 search runs; 6 reported cells.
    assert len(searched) == len(experiment.every_search_cell(config)) == 4
    assert len(reported) == len(experiment.planned_cells(config)) == 6
    assert (workdir / "summary.md").read_text() == summary
    assert (workdir / "accuracy_vs_labeled.png").stat().st_size > 0
    assert len(os.listdir(workdir / "runs")) == 2  # one teacher, one pre-trained student
    for _, result in searched:
        # H, half of V (100), is held out of the student's training set: A ∪ (V \ H) ∪ U.
        assert result["holdout"]["size"] == 50
        assert result["student_training_size"] == 1078 - 50
    for cell, result in reported:
        accuracy = result["student"]["test"]["accuracy"]
        # The trajectory's last point is the model evaluated after training.
        assert result["test_accuracy_per_epoch"][-1] == pytest.approx(accuracy, abs=1e-6)
        assert result["best_test_accuracy"] == max(result["test_accuracy_per_epoch"])
        assert result["student_training_size"] == 1078  # A ∪ V ∪ U: the whole training set
        assert "holdout" not in result
        if cell["objective"] == "weighted":
            heading = "## Debiasing weights"
            name = experiment.method_name("weighted", cell["options"]["weights_every_n_epochs"])
        else:
            heading = f"## {cell['labels']} labels, after the last epoch"
            name = experiment.row_name(config, cell["objective"])
        section = summary.split(heading, 1)[1].split("\n## ", 1)[0]
        cells_of_row = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
        assert reporting.format_mean([100 * accuracy], digits=2) in cells_of_row
    teacher = records[0][1]["teacher"]["test"]["accuracy"]
    assert f"| teacher | {100 * teacher:.2f} |" in summary


@pytest.mark.slow  # the smoke grid's whole jobs
def test_reported_trials_run_the_options_chosen_on_the_holdout(smoke_run):
    """The lower bound with the best accuracy on H (the first on ties) is the one every
    reported SLaM cell runs with; the summary's selection table names it."""
    workdir, summary = smoke_run
    records = Grid(workdir).records()
    for labels in ("soft", "hard"):
        scores = {
            cell["options"]["slam_lower_bound"]: result["holdout"]["accuracy"]
            for cell, result in records
            if "search" in cell and cell["labels"] == labels
        }
        best = max(scores.values())
        winner = next(bound for bound in (0.5, 0.6) if scores[bound] == best)
        chosen = {
            cell["options"]["slam_lower_bound"]
            for cell, _ in records
            if "search" not in cell and cell["objective"] == "slam" and cell["labels"] == labels
        }
        assert chosen == {winner}
        assert f"| 300 | {labels} | slam | slam_lower_bound = {winner} | {best:.4f} |" in summary


@pytest.mark.slow  # the smoke grid's whole jobs
def test_a_rerun_recomputes_nothing(smoke_run, monkeypatch):
    workdir, summary = smoke_run
    before = _files(workdir / "cells") | _files(workdir / "runs")

    def fail(*args, **kwargs):
        raise AssertionError("a stored cell was recomputed")

    monkeypatch.setattr(unlabeled, "run_trial", fail)
    monkeypatch.setattr(unlabeled, "labeled_stage", fail)
    monkeypatch.setattr(unlabeled.trial, "distill", fail)
    assert experiment.run_grid(_smoke(), str(workdir)) == summary
    assert _files(workdir / "cells") | _files(workdir / "runs") == before


def test_weights_comparison_shares_the_main_weighted_cells():
    config = _smoke(**{"grid.objectives": ("vanilla", "weighted")})
    cells = experiment.planned_cells(config)
    # 2 labels × 2 objectives, plus weighted re-estimated every epoch; "once" is a main cell.
    assert len(cells) == 5
    schedules = {cell["options"].get("weights_every_n_epochs", "-") for cell in cells}
    assert schedules == {"-", None, 1}


@pytest.mark.slow  # the smoke grid's whole jobs
def test_student_targets_are_aligned_with_the_examples(smoke_run):
    workdir, _ = smoke_run
    config = _smoke(**{"student.temperature": 2.0, "unlabeled.trial": 1})
    context, stage = _stage(workdir, config)
    split = unlabeled.trial_split(config, context)
    training_set = unlabeled.StudentTrainingSet(config, context, split, stage)
    arrays = training_set.per_example(unlabeled.StudentTrainingSet.ARRAYS)

    # Recomputed from the stored teacher, not from its cached bulk inference.
    train_x = np.stack([x for x, _ in context.splits.train.as_numpy_iterator()])
    labels = context.splits.train_labels
    logits = stage.teacher.predict(train_x, verbose=0)
    features_layer = keras.Model(stage.teacher.input, stage.teacher.get_layer("features").output)
    features = features_layer.predict(train_x, verbose=0)
    soft = special.softmax(logits.astype(np.float64) / 2.0, axis=1)
    unlabeled_positions, validation = split.unlabeled_positions, split.validation_positions
    estimator = estimators.TeacherAccuracyEstimator(0.5, 0.9).fit(
        soft[validation], labels[validation]
    )
    alpha, topk = np.ones(len(labels)), np.ones_like(soft)
    alpha[unlabeled_positions] = estimator.alpha(soft[unlabeled_positions])
    topk[unlabeled_positions] = estimators.top_k_mask(
        soft[unlabeled_positions], estimator.k(soft[unlabeled_positions])
    )
    entropy = -(soft * np.log(soft)).sum(axis=1)
    weight = np.ones(len(labels))
    weight[unlabeled_positions] = np.exp(
        -entropy[unlabeled_positions] / entropy[unlabeled_positions].mean()
    )

    seen, unlabeled_flags = [], []
    for x, targets in data.training_pipeline(
        training_set.dataset, 100, seed=3, per_example=arrays
    ).as_numpy_iterator():
        position = training_set.positions[targets["index"]]
        is_unlabeled = np.isin(position, unlabeled_positions)
        np.testing.assert_array_equal(x, train_x[position])
        np.testing.assert_array_equal(targets["label"], labels[position])
        np.testing.assert_array_equal(targets["labeled"], 1.0 - is_unlabeled)
        one_hot = np.eye(10)[labels[position]]
        np.testing.assert_array_equal(
            targets["teacher_probs"][~is_unlabeled], one_hot[~is_unlabeled]
        )
        np.testing.assert_allclose(
            targets["teacher_probs"][is_unlabeled], soft[position][is_unlabeled], atol=1e-5
        )
        np.testing.assert_allclose(targets["alpha"], alpha[position], atol=1e-6)
        np.testing.assert_array_equal(targets["topk"], topk[position])
        np.testing.assert_allclose(targets["weight"], weight[position], atol=1e-5)
        np.testing.assert_allclose(targets["teacher_features"], features[position], atol=1e-5)
        seen.append(position)
        unlabeled_flags.append(is_unlabeled)
    seen = np.sort(np.concatenate(seen))
    np.testing.assert_array_equal(seen, np.arange(len(labels)))  # A ∪ V ∪ U, each once
    assert np.concatenate(unlabeled_flags).sum() == len(unlabeled_positions)


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.slow  # the smoke grid's whole jobs
def test_labeled_temperature_and_hard_labels(smoke_run, hard):
    """t_A gives A the teacher's softmax(f/t_A) in soft distillation (SLaM App. D.5); V keeps
    its true labels; hard distillation gives U the teacher's one-hot argmax and A its labels."""
    workdir, _ = smoke_run
    config = _smoke(
        **{
            "unlabeled.labeled_temperature": 0.5,
            "student.hard_labels": hard,
            "unlabeled.train_on_validation": False,
        }
    )
    context, stage = _stage(workdir, config)
    split = unlabeled.trial_split(config, context)
    training_set = unlabeled.StudentTrainingSet(config, context, split, stage)
    positions, targets = training_set.positions, training_set.teacher_probs
    logits = stage.teacher_labels.logits
    labels = context.splits.train_labels
    np.testing.assert_array_equal(
        positions, np.sort(np.concatenate([split.labeled_positions, split.unlabeled_positions]))
    )
    is_labeled = np.isin(positions, split.labeled_positions)
    if hard:
        expected_unlabeled = np.eye(10)[logits[positions].argmax(axis=1)]
        expected_labeled = np.eye(10)[labels[positions]]
    else:
        expected_unlabeled = special.softmax(logits[positions].astype(np.float64), axis=1)
        expected_labeled = special.softmax(logits[positions].astype(np.float64) / 0.5, axis=1)
    np.testing.assert_allclose(targets[is_labeled], expected_labeled[is_labeled], atol=1e-6)
    np.testing.assert_allclose(targets[~is_labeled], expected_unlabeled[~is_labeled], atol=1e-6)


@pytest.mark.slow  # the smoke grid's whole jobs
def test_students_start_from_the_pretrained_checkpoint(smoke_run):
    """With a learning rate of 1e-12 the distilled student ends where it started: the
    pre-trained student's saved weights (not a new initialization)."""
    workdir, _ = smoke_run
    context, stage = _stage(workdir, _smoke())
    config = _smoke(**{"student.objective": "vid", "train.learning_rate": 1e-12, "train.epochs": 1})

    def student_net():
        student = config.student
        return nets.get(
            student.net, 10, context.splits.input_shape, **student.net_options.to_dict()
        )

    pretrained, fresh = student_net(), student_net()
    pretrained.load_weights(stage.student_checkpoint)
    predicted = evaluation.predict_logits(pretrained, context.splits.test, 256).argmax(axis=1)
    stored = stage.reports["pretrained_student"]["test"]["accuracy"]
    assert np.mean(predicted == context.splits.test_labels) == pytest.approx(stored)

    split = unlabeled.trial_split(config, context)
    training_set = unlabeled.StudentTrainingSet(config, context, split, stage)
    model, _ = unlabeled.distill(config, context, stage, training_set)
    for trained, start in zip(model.backbone.weights, pretrained.weights, strict=True):
        np.testing.assert_allclose(trained.numpy(), start.numpy(), atol=1e-8)
    assert not all(
        np.allclose(start.numpy(), new.numpy())
        for start, new in zip(pretrained.weights, fresh.weights, strict=True)
    )


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"grid.objectives": ("vanilla", "magic")}, "unknown unlabeled student objective 'magic'"),
        ({"grid.objectives": ("vanilla", "kd")}, "unknown unlabeled student objective 'kd'"),
        ({"grid.objective_kw.degree": 0}, "student.objective_kw.degree"),
        ({"grid.num_labeled": (300, 5000)}, "num_labeled must lie in"),
        ({"unlabeled.validation_size": 900}, "validation_size must lie in"),
        ({"grid.labels": ("soft", "warm")}, "unknown labels"),
        ({"grid.weights_schedules": (0,)}, "weights_every_n_epochs"),
        ({"student.temperature": 0.0}, "t_B"),
        ({"selection.metric": "f1"}, "unknown selection metric 'f1'"),
        ({"selection.holdout_fraction": 1.0}, "holdout_fraction must be in"),
        ({"selection.spaces.slam.slam_lower_bound": (0.5, 2.0)}, "lower_bound must be in"),
        ({"unlabeled.fidelity_uncertainty": "dropout"}, "fidelity_uncertainty must be one of"),
        ({"unlabeled.fidelity_views": 1}, "fidelity_views must be an integer >= 2"),
        ({"unlabeled.fidelity_augmentation": "blur"}, "fidelity_augmentation must be one of"),
    ],
)
def test_bad_config_fails_before_anything_is_written(tmp_path, overrides, match):
    workdir = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        experiment.run_grid(_smoke(**overrides), str(workdir))
    assert not workdir.exists()


@pytest.mark.parametrize(
    "objective, space, match",
    [
        ("vanilla", {"degree": (1, 2)}, "'vanilla' reads no option 'degree'"),
        ("vid", {"temperature": (1.0, 2.0)}, "'vid' reads no option 'temperature'"),
        ("magic", {"degree": (1,)}, "unknown unlabeled student objective 'magic'"),
    ],
)
def test_a_search_of_an_option_the_objective_does_not_read_is_refused(objective, space, match):
    config = _smoke(**{"grid.objectives": ("vanilla", "vid")})
    config.selection.spaces[objective] = space
    with pytest.raises(ValueError, match=match):
        experiment.check_grid(config)


def _fake_result(accuracy):
    test = {"accuracy": accuracy}
    return {
        "student": {"test": test},
        "best_test_accuracy": accuracy,
        "teacher": {"test": {"accuracy": 0.5}},
        "pretrained_student": {"test": {"accuracy": 0.4}},
    }


def test_temperature_ablation_cells_report_the_best_pair_apart_from_the_main_tables():
    config = _smoke(
        **{
            "grid.labels": ("soft",),
            "grid.trials": (0, 1),
            "grid.temperature_ablation.num_labeled": (300,),
            "grid.temperature_ablation.objectives": ("slam",),
            "grid.temperature_ablation.temperatures": (0.5, 2.0),
        }
    )
    plan = experiment.plan(config)
    cells = plan.cells()
    ablation = [cell for cell in cells if experiment.in_temperature_ablation(cell)]
    assert len(ablation) == 4 * 2  # 2 x 2 pairs x 2 trials
    assert experiment.cell_config(config, ablation[0]).unlabeled.labeled_temperature == 0.5
    # The pair (2, 0.5) is best on average; the main slam cells score 0.70.
    accuracy = {(0.5, 0.5): 0.60, (0.5, 2.0): 0.62, (2.0, 0.5): 0.80, (2.0, 2.0): 0.64}
    results = {
        cell_key(cell): _fake_result(accuracy[cell["t_A"], cell["t_B"]] + 0.01 * cell["trial"])
        if experiment.in_temperature_ablation(cell)
        else _fake_result(0.70)
        for cell in cells
    }
    text = unlabeled_summary.summary(plan, results, config)
    main, ablation_section = text.split("## Temperature ablation")
    assert "| slam | 70.00 ± 0.00 (2) |" in main and "80." not in main
    row = "| 300 | slam | 70.00 ± 0.00 (2) | 80.50 ± 0.50 (2) | 2, 0.5 | 4 of 4 |"
    assert row in ablation_section


def test_temperature_ablation_sizes_must_be_in_the_grid():
    config = _smoke(**{"grid.temperature_ablation.num_labeled": (999,)})
    with pytest.raises(ValueError, match=r"temperature_ablation.num_labeled \[999\]"):
        experiment.check_grid(config)


@pytest.mark.parametrize("hard", [False, True])
def test_debiasing_weights_read_the_teachers_soft_confidence_in_hard_distillation(hard):
    """Algorithm 2 (weighted paper, App. A) takes Confidence(Teacher(x)) on V and U from the
    teacher's soft labels (lines 5, 14) and scores the student against the label it trains
    on (line 9): one-hot argmax on V in hard distillation, the soft labels otherwise."""
    config = _smoke(**{"student.hard_labels": hard, "student.temperature": 2.0})
    context = unlabeled.prepare(config)
    logits = np.random.default_rng(0).normal(size=(context.num_examples("train"), 10))
    stage = unlabeled.LabeledStage(
        teacher=None,
        teacher_labels=data.TeacherLabels(logits.astype(np.float32), "random"),
        teacher_directory="",
        student_checkpoint="",
        reports={},
    )
    split = unlabeled.trial_split(config, context)
    update = unlabeled.StudentTrainingSet(config, context, split, stage).debiasing_update()
    soft = special.softmax(logits.astype(np.float32).astype(np.float64) / 2.0, axis=1)
    validation, unlabeled_positions = split.validation_positions, split.unlabeled_positions
    np.testing.assert_allclose(update.teacher_probs_validation, soft[validation], atol=1e-6)
    np.testing.assert_allclose(update.teacher_probs_unlabeled, soft[unlabeled_positions], atol=1e-6)
    expected_targets = np.eye(10)[logits[validation].argmax(axis=1)] if hard else soft[validation]
    np.testing.assert_allclose(update.training_targets_validation, expected_targets, atol=1e-6)


@pytest.mark.slow  # the smoke grid's whole jobs
def test_cells_of_another_labeled_stage_are_refused(smoke_run, tmp_path):
    workdir, summary = smoke_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir / "cells", copy / "cells")
    shutil.copy(workdir / "grid_config.json", copy)
    assert experiment.run_grid(_smoke(), str(copy), report_only=True) == summary
    path = sorted((copy / "cells").glob("hard_300_slam*.json"))[0]
    stored = json.loads(path.read_text())
    stored["result"]["teacher"]["test"]["accuracy"] += 0.001  # a teacher trained again
    path.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="different teachers or students trained on A"):
        experiment.run_grid(_smoke(), str(copy), report_only=True)
