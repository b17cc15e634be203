"""A small job for tests/test_resume.py and test_determinism.py that can SIGKILL itself.

Run as ``python tests/support/resume_worker.py JOB WORKDIR [ROLE EPOCH BATCH]``:

- JOB ``main``: `pipeline.run` of `main_config` (a SoTeacher teacher, a robust student)
  writes WORKDIR/results.json, teacher.keras and student.keras.
- JOB ``unlabeled``: the labeled stage and one trial of `unlabeled_config` (a weighted
  student whose debiasing weights are estimated before training and after every second
  epoch) write WORKDIR/results.json (the trial's report) and WORKDIR/student.keras.

With ROLE EPOCH BATCH the process kills itself with SIGKILL when the model whose role
starts with ROLE begins batch BATCH of epoch EPOCH (0-based), through a callback given
to the jobs' `training.fit`. Every epoch begun is appended to WORKDIR/epochs.log as
"ROLE EPOCH", so the test sees where a restarted run resumed.
"""

import os
import signal
import sys

import keras

from configs import distill as distill_config
from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import reporting
from tf_robust_distill.pipeline import job, training, unlabeled


def main_config():
    config = distill_config.get_config("demo")
    config.dataset.imbalance_ratio = None
    config.dataset.augment = "translate"
    config.teacher.objective = "soteacher"
    config.teacher.objective_kw = {"lipschitz_weight": 1e-5, "consistency_weight_max": 1.0}
    config.teacher.net_options.hidden_sizes = (32,)
    config.student.objective = "rob"
    config.student.objective_kw = {"step_size": 1.0}
    config.student.net_options.hidden_sizes = (16,)
    config.student.dro_update_every = 5  # 17 steps an epoch: updates straddle epochs
    config.train.epochs = 3
    config.verbose = 0
    return config


def unlabeled_config_for_test():
    config = unlabeled_config.get_config("smoke")
    config.student.objective = "weighted"
    config.unlabeled.weights_every_n_epochs = 2
    config.unlabeled.labeled_epochs = 2
    config.train.epochs = 3
    config.train.batch_size = 64
    return config


class EpochLogAndKill(keras.callbacks.Callback):
    """Logs every epoch begun; SIGKILLs the process at (kill_epoch, kill_batch) if given."""

    def __init__(self, workdir, role, kill_at=None):
        super().__init__()
        self.log_path = os.path.join(workdir, "epochs.log")
        self.role, self.kill_at = role, kill_at
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        with open(self.log_path, "a") as handle:
            handle.write(f"{self.role} {epoch}\n")

    def on_train_batch_begin(self, batch, logs=None):
        if self.kill_at == (self.epoch, batch):
            os.kill(os.getpid(), signal.SIGKILL)


def callback_for(workdir, role, kill):
    """The test callback of the model trained as `role`."""
    kill_role, epoch, batch = kill or (None, None, None)
    kill_at = (epoch, batch) if kill_role is not None and role.startswith(kill_role) else None
    return EpochLogAndKill(workdir, role, kill_at)


def install(workdir, kill=None, replace=setattr):
    """Give every `fit` of both jobs the test callback; save the unlabeled job's student.

    Args:
      kill: None, or (role, epoch, batch) at which to SIGKILL the process.
      replace: how to replace the jobs' functions (a test passes ``monkeypatch.setattr``).
    """
    fit, distill = training.fit, unlabeled.trial.distill

    def fit_with_callback(*args, name, callbacks=(), **kwargs):
        callbacks = [*callbacks, callback_for(workdir, name, kill)]
        return fit(*args, name=name, callbacks=callbacks, **kwargs)

    def distill_and_save(*args):
        model, history = distill(*args)
        model.save(os.path.join(workdir, "student.keras"))
        return model, history

    replace(training, "fit", fit_with_callback)
    replace(unlabeled.trial, "distill", distill_and_save)


def run_main(workdir, config=None):
    """`pipeline.run` of `config` (default `main_config`) in `workdir`."""
    job.run(main_config() if config is None else config, workdir)


def run_unlabeled(workdir, config=None):
    """The labeled stage and one trial of `config` (default `unlabeled_config_for_test`)."""
    config = unlabeled_config_for_test() if config is None else config
    context = unlabeled.prepare(config)
    stage = unlabeled.labeled_stage(config, context, os.path.join(workdir, "runs"))
    results = unlabeled.run_trial(config, context, stage)
    reporting.write_json(results, os.path.join(workdir, "results.json"))


JOBS = {"main": run_main, "unlabeled": run_unlabeled}

if __name__ == "__main__":
    name, workdir, *kill = sys.argv[1:]
    install(workdir, (kill[0], int(kill[1]), int(kill[2])) if kill else None)
    JOBS[name](workdir)
