"""The README's bad inputs of whole runs: a run that would train nothing, and settings
that fail only after work, now refused before any model trains or file is written."""

import numpy as np
import pytest
from support.bad_inputs import assert_readme_error, case, cases_of, run_job, save_npz

from configs import distill as distill_config
from configs import robust_distill as robust_config
from configs import soteacher as soteacher_config
from configs import unlabeled_distill as unlabeled_config
from configs.optional_fields import FIELD_TYPES
from experiments import robust_distill
from tf_robust_distill import data
from tf_robust_distill.grid import with_overrides
from tf_robust_distill.pipeline import unlabeled


@case("`--config.train.epochs=0`")
def zero_epochs(tmp_path):
    run_job(tmp_path, "--config.train.epochs=0")


@case(
    "`--config.train.batch_size=1000 --config.train.drop_remainder=True` on the demo's 443 images"
)
def batch_larger_than_the_training_set(tmp_path):
    run_job(tmp_path, "--config.train.batch_size=1000", "--config.train.drop_remainder=True")


@case("`--config.eval.worst_k=11` on the 10 classes of digits")
def worst_k_beyond_the_classes(tmp_path):
    run_job(tmp_path, "--config.eval.worst_k=11")


@case("`--config.student.teacher_top_k=11` on the 10 classes of digits")
def teacher_top_k_beyond_the_classes(tmp_path):
    run_job(tmp_path, "--config.student.teacher_top_k=11")


@case("`--config.student.objective=post_shift` on an `.npz` whose `y_val` lacks class 2")
def post_shift_without_a_validation_class(tmp_path):
    x, y = np.random.default_rng(0).random((30, 5)).astype(np.float32), np.arange(30) % 3
    name = save_npz(
        tmp_path / "data.npz", x_train=x, y_train=y, x_test=x, y_test=y, x_val=x, y_val=y % 2
    )
    run_job(
        tmp_path,
        f"--config.dataset.name={name}",
        "--config.student.objective=post_shift",
        config="configs/distill.py",
    )


def robust_grid(**grid):
    """The digits_lt grid of `experiments.robust_distill` with `grid` fields changed."""
    config = robust_config.get_config("digits_lt")
    return with_overrides(config, {f"grid.{key}": value for key, value in grid.items()})


@case("`--config.grid.table_students=\"('std-d', 'bal_d')\"` (a student the grid does not define)")
def grid_student_typo(tmp_path):
    config = robust_grid(table_students=("std-d", "bal_d"))
    robust_distill.check_cells(config, list(robust_distill.table_cells(config.grid)))


@case("`--config.student.temperature=0` on `experiments.robust_distill`")
def grid_temperature_zero(tmp_path):
    config = with_overrides(robust_grid(), {"student.temperature": 0.0})
    robust_distill.check_cells(config, list(robust_distill.tradeoff_cells(config.grid)))


@case("`--config.unlabeled.validation_size` that leaves no unlabeled example")
def unlabeled_job_without_unlabeled_examples(tmp_path):
    config = unlabeled_config.get_config("smoke")
    size = len(data.load("digits").train_labels)
    config.unlabeled.validation_size = size - config.unlabeled.num_labeled
    unlabeled.prepare(config)


@case("`--config.unlabeled.labeled_epochs=0`")
def unlabeled_job_with_zero_labeled_epochs(tmp_path):
    config = unlabeled_config.get_config("smoke")
    config.unlabeled.labeled_epochs = 0
    unlabeled.prepare(config)


@cases_of(__name__)
def test_the_user_sees_the_readme_error_and_nothing_is_written(what, tmp_path):
    assert_readme_error(what, tmp_path)


@pytest.mark.parametrize("value", ["None", "none"])
def test_optional_fields_take_none_on_the_command_line(value, tmp_path, monkeypatch):
    """`--config.dataset.imbalance_ratio=None` reaches the job as None (no long tail)."""
    seen = {}

    def record(name, **options):
        seen.update(options)
        raise StopIteration

    monkeypatch.setattr(data, "load", record)
    with pytest.raises(StopIteration):
        run_job(tmp_path, f"--config.dataset.imbalance_ratio={value}")
    assert seen["imbalance_ratio"] is None


@pytest.mark.parametrize(
    "overrides, long_tail", [((), None), (("--config.dataset.imbalance_ratio=4",), 4.0)]
)
def test_an_npz_dataset_trains_on_all_of_itself_unless_a_long_tail_is_asked_for(
    overrides, long_tail, tmp_path, monkeypatch
):
    """The README's bring-your-own-data command: no variant, an npz dataset."""
    x, y = np.random.default_rng(0).random((60, 5)).astype(np.float32), np.arange(60) % 3
    name = save_npz(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    loaded, load = [], data.load

    def stop_after_loading(name, **options):
        loaded.append(load(name, **options))
        raise StopIteration

    monkeypatch.setattr(data, "load", stop_after_loading)
    with pytest.raises(StopIteration):
        run_job(tmp_path, f"--config.dataset.name={name}", *overrides, config="configs/distill.py")
    counts = np.bincount(loaded[0].train_labels, minlength=3)
    full = np.array([20, 20, 20])
    expected = full if long_tail is None else data.long_tail_counts(full, long_tail)
    np.testing.assert_array_equal(counts, expected)


def none_fields(config, prefix=""):
    """(dotted name, field type) of every field of `config` whose value is None."""
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from none_fields(value, f"{prefix}{key}.")
        elif value is None:
            yield f"{prefix}{key}", config.get_type(key)


@pytest.mark.parametrize(
    "module", [distill_config, robust_config, soteacher_config, unlabeled_config]
)
def test_every_optional_field_of_every_config_takes_none(module):
    fields = dict(none_fields(module.get_config()))
    assert fields
    refusing = {name: kind for name, kind in fields.items() if kind not in FIELD_TYPES.values()}
    assert refusing == {}, "use configs.optional_fields.optional for these fields"
