"""Teacher -> labels -> student -> evaluation, as the experiments and notebooks run it.

- `job`: the main job (one training set; `run` writes results.json), built from
  `teacher` (or a trained teacher's file, `given_teacher`), `student` and `role_training`;
- `unlabeled`: the job with unlabeled examples (a labeled set A, a validation set V and
  an unlabeled set U per trial);
- `training`: the spine both jobs train every model with (net, registry objective,
  compile in the strategy's scope, resumable fit), `checkpointing` beneath it;
- `context`, `cache_paths`, `config_checks`, `evaluation`: what the jobs share.
"""

from tf_robust_distill.pipeline.evaluation import classification_report
from tf_robust_distill.pipeline.job import run

__all__ = ["classification_report", "run"]
