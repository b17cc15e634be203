r"""Top-k teacher labels: students distilled from the teacher's top-1/3/5/10 labels vs its
dense labels (``student.teacher_top_k``; the tail rule in tf_robust_distill/data/topk_rows.py).

Run (from the repository root):

  python -m experiments.topk_labels --config=configs/topk_labels.py:local \
      --workdir=results/topk_labels

Variants:
  local  two tasks. Fashion-MNIST (60,000 training images, 10 classes): an MLP 512-512
         teacher and an MLP 128 student, 10 epochs; its top-10 labels are the dense ones
         again (k = C), a check of the plumbing. synthetic100, the 100-class Gaussian
         mixture (50,000 training points in 128 dimensions, Bayes accuracy about 82%): an MLP
         512-512 teacher and an MLP 64 student, 20 epochs. Adam 1e-3, batch 128. Labels:
         top-1, 3, 5, 10 and dense; student temperatures 1 (the tail rule is exact on the
         top k and on the tail's mass) and 4 (the tail rule's bounded approximation); 2
         student repeats: 2 x 5 x 2 x 2 = 40 cells, one teacher per task.
  smoke  digits, tiny MLPs, one epoch, top-1 and top-3 against dense, T = 1 and 4, one
         repeat: what the tests run.

Each cell is the main job (`pipeline.run`) with the cell's task, labels, temperature and
student seed; the teacher of a task is trained once and shared by its cells (its label
caches, one per k, beside it). Every finished cell is stored under WORKDIR/cells; a rerun
skips it. The summary reports, per task and temperature, the training split's cache bytes
and their ratio to the dense cache, the students' test accuracy and worst-class accuracy
(mean ± standard error over repeats), their paired difference from the dense labels' student,
and the wall seconds of a cell. Train-step time and memory are measured apart
(`python -m experiments.benchmark.topk_labels`, BENCHMARKS.md).
"""

import ml_collections

from configs import distill

DENSE = "dense"


def task(dataset, teacher_hidden_sizes, student_hidden_sizes, epochs):
    """One task of the grid: its dataset, the two MLPs and the epochs of both."""
    return {
        "dataset": dataset,
        "teacher_hidden_sizes": teacher_hidden_sizes,
        "student_hidden_sizes": student_hidden_sizes,
        "epochs": epochs,
    }


def get_config(arg="local"):
    config = distill.get_config()
    config.train.batch_size = 128
    config.student.objective = "std"
    config.student.validation_labels = "one_hot"
    config.teacher.seed = 100  # apart from the student seeds 0, 1, ...
    config.grid = ml_collections.ConfigDict()
    if arg == "local":
        config.grid.tasks = {
            "fashion_mnist": task("fashion_mnist", (512, 512), (128,), 10),
            "synthetic100": task("synthetic100", (512, 512), (64,), 20),
        }
        config.grid.top_k = (1, 3, 5, 10, DENSE)
        config.grid.temperatures = (1.0, 4.0)
        config.grid.repeats = 2
    elif arg == "smoke":
        config.grid.tasks = {"digits": task("digits", (16,), (8,), 1)}
        config.grid.top_k = (1, 3, DENSE)
        config.grid.temperatures = (1.0, 4.0)
        config.grid.repeats = 1
    else:
        raise ValueError(f"unknown variant {arg!r}; choose local or smoke")
    return config
