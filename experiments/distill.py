r"""The main job: teacher -> cached teacher labels -> student -> results.json.

  python -m experiments.distill --config=configs/distill.py:demo --workdir=runs/demo
  python -m experiments.distill --config=configs/distill.py --workdir=runs/mine \
      --config.dataset.name=npz:/path/data.npz --config.teacher.net=mlp --config.student.net=mlp

Writes WORKDIR/results.json, results.md, per_class_recall.png, TensorBoard logs,
teacher.keras, student.keras and the teacher-label cache. Logs one line per stage
(teacher, teacher labels, student, evaluation) and where the results were written.
"""

from absl import app, flags
from ml_collections import config_flags

from configs import distill as distill_config
from experiments import config_help
from tf_robust_distill import pipeline

__doc__ += "\n" + config_help.fields_help(distill_config)

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to a config file (configs/distill.py[:variant]).", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results, models and logs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    print(pipeline.run(_CONFIG.value, _WORKDIR.value).table)


if __name__ == "__main__":
    app.run(main)
