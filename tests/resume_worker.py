"""A small job for tests/test_resume.py, run in a workdir, that can kill itself with SIGKILL.

Run as ``python tests/resume_worker.py JOB WORKDIR [ROLE EPOCH BATCH]``:

- JOB ``main``: `pipeline.run` of `main_config` (a SoTeacher teacher, a robust student)
  writes WORKDIR/results.json, teacher.keras and student.keras.
- JOB ``unlabeled``: the labeled stage and one trial of `unlabeled_config` (a weighted
  student whose debiasing weights are estimated before training and after every second
  epoch) write WORKDIR/results.json (the trial's report) and WORKDIR/student.keras.

With ROLE EPOCH BATCH the process kills itself with SIGKILL when the model whose role
starts with ROLE begins batch BATCH of epoch EPOCH (0-based), through a callback given
to the job's `fit`. Every epoch begun is appended to WORKDIR/epochs.log as
"ROLE EPOCH", so the test sees where a restarted run resumed.
"""

import os
import signal
import sys

import keras

from configs import distill as distill_config
from configs import unlabeled_distill as unlabeled_config
from tf_robust_distill import reporting
from tf_robust_distill.pipeline import job, unlabeled


def main_config():
    config = distill_config.get_config("demo")
    config.dataset.imbalance_ratio = None
    config.dataset.augment = "translate"
    config.teacher.objective = "soteacher"
    config.teacher.net_options.hidden_sizes = (32,)
    config.student.objective = "rob"
    config.student.net_options.hidden_sizes = (16,)
    config.student.dro_update_every = 5  # 17 steps an epoch: updates straddle epochs
    config.student.dro_step_size = 1.0
    config.train.epochs = 3
    config.verbose = 0
    return config


def unlabeled_config_for_test():
    config = unlabeled_config.get_config("smoke")
    config.unlabeled.objective = "weighted"
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
    job_fit, unlabeled_fit, distil = job.fit, unlabeled.fit, unlabeled.distil

    def job_fit_with_callback(role, *args, **kwargs):
        return job_fit(role, *args, callbacks=[callback_for(workdir, role, kill)], **kwargs)

    def unlabeled_fit_with_callback(*args, role, callbacks=(), **kwargs):
        callbacks = [*callbacks, callback_for(workdir, role, kill)]
        return unlabeled_fit(*args, role=role, callbacks=callbacks, **kwargs)

    def distil_and_save(*args):
        model, history = distil(*args)
        model.save(os.path.join(workdir, "student.keras"))
        return model, history

    replace(job, "fit", job_fit_with_callback)
    replace(unlabeled, "fit", unlabeled_fit_with_callback)
    replace(unlabeled, "distil", distil_and_save)


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
