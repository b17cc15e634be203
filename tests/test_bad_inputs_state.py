"""The README's bad inputs of stored state: caches of other data, a workdir in use, damaged
files a job reads back (stored teacher, checkpoints, grid cells, a labeled stage). The
state lives beside ``tmp_path/run``, which stays empty as for every other row."""

import os

from support.bad_inputs import assert_readme_error, case, cases_of, examples, labels_cache
from support.tiny import tiny_net

import tf_robust_distill as trd
from configs import distill as distill_config
from configs import soteacher as soteacher_config
from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import files, pipeline
from tf_robust_distill.grid import Grid, with_overrides
from tf_robust_distill.pipeline import checkpointing, teacher, training, workdir_lock
from tf_robust_distill.pipeline.context import prepare as prepare_context
from tf_robust_distill.pipeline.unlabeled.labeled_stage import WEIGHTS_FILE, load_backbone


def truncate(path):
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])


def demo_config():
    config = distill_config.get_config("demo")
    config.train.epochs = 1
    config.verbose = 0
    return config


def stored_teacher_state(tmp_path):
    """A workdir whose teacher_config.json matches the demo config and its data."""
    config, state = demo_config(), tmp_path / "state"
    key = teacher.teacher_key(config, pipeline.job.prepare(config))
    files.write_json(key, state / teacher.CONFIG_FILE)
    tiny_net().save(state / teacher.MODEL_FILE)
    return config, state


@case("a teacher-label cache of other data of the same size, or of the same data shuffled")
def cache_of_shuffled_data(tmp_path):
    path = labels_cache(tmp_path)
    shuffled = examples().shuffle(12, seed=0)
    trd.data.TeacherLabels.from_model(tiny_net(1), shuffled, num_examples=12, cache_path=path)


@case("a second job on a workdir in use")
def second_job_on_a_workdir_in_use(tmp_path):
    with workdir_lock.locked(str(tmp_path / "busy")):
        pipeline.run(demo_config(), str(tmp_path / "busy"))


@case("a truncated `teacher.keras` in the workdir")
def truncated_stored_teacher(tmp_path):
    config, state = stored_teacher_state(tmp_path)
    truncate(state / teacher.MODEL_FILE)
    pipeline.run(config, str(state))


@case("a truncated `teacher_config.json` in the workdir")
def truncated_teacher_config(tmp_path):
    config, state = stored_teacher_state(tmp_path)
    truncate(state / teacher.CONFIG_FILE)
    pipeline.run(config, str(state))


@case("every kept checkpoint of an interrupted run truncated")
def truncated_checkpoints(tmp_path):
    model = tiny_net()
    model.compile(optimizer="adam", loss="mse")
    directory = str(tmp_path / "state" / "checkpoints" / "teacher-0")
    checkpointing.TrainingCheckpoint(model, directory).save(0, {"loss": 1.0})
    for name in os.listdir(directory):
        if ".data-" in name:
            truncate(os.path.join(directory, name))
    checkpointing.TrainingCheckpoint(model, directory).restore()


@case("a truncated cell file of an experiment grid")
def truncated_grid_cell(tmp_path):
    grid = Grid(str(tmp_path / "state"))
    grid.run({"cell": 1}, lambda: {"accuracy": 0.5})
    truncate(grid.path({"cell": 1}))
    grid.run({"cell": 1}, lambda: {"accuracy": 0.5})


@case("a grid rerun in which a stored cell's settings changed (e.g. `grid.objective_kw`)")
def grid_cell_with_other_settings(tmp_path):
    config = soteacher_config.get_config("smoke")
    grid = Grid(str(tmp_path / "state"), config)
    cell = {"part": "main", "teacher": "std", "seed": 0}
    grid.run(cell, lambda: {"accuracy": 0.5}, config)
    grid.run(cell, lambda: {"accuracy": 0.5}, with_overrides(config, {"student.temperature": 5}))


@case("a truncated `backbone.weights.h5` of the unlabeled job's labeled stage")
def truncated_labeled_stage_weights(tmp_path):
    config = unlabeled_config.get_config("smoke")
    context = prepare_context(config)
    path = str(tmp_path / "state" / "teacher-labeled300-0" / WEIGHTS_FILE)
    os.makedirs(os.path.dirname(path))
    training.build_backbone(config.teacher, context).save_weights(path)
    truncate(path)
    load_backbone(config, context, "teacher", path)


@cases_of(__name__)
def test_the_user_sees_the_readme_error_and_nothing_is_written(what, tmp_path):
    assert_readme_error(what, tmp_path)
