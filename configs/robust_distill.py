r"""Worst-class robust distillation (Wang et al.): Table 1 and the trade-off grid of Figure 1.

Run (from the repository root):

  python -m experiments.robust_distill --config=configs/robust_distill.py:fashion_mnist_lt \
      --workdir=results/robust_fashion_mnist_lt

Variants:
  fashion_mnist_lt  Fashion-MNIST-LT (ratio 100: 14,886 training images), MLP (256-256)
                    teacher and student (self-distillation), Adam 1e-3, 10 epochs, batch 128;
                    3 repeats of every Table 1 student and of every trade-off cell. CPU.
  fashion_mnist     the same on balanced Fashion-MNIST (60,000 training images), 5 epochs
                    (4x the data of the LT set: the grid then fits in a few CPU hours).
  fashion_mnist_lt_compression
                    compression on Fashion-MNIST-LT: the MLP 256-256 teacher (269k weights) ->
                    an MLP 64 student (51k); teachers std, bal, rob; run with --parts=table.
  digits_lt         digits, ratio 10, 10 epochs, one repeat: a smoke run (and the tests).
  cifar10_lt / cifar100_lt   the paper's setting (App. E.2.2): ResNet-56 self-distillation
                    (student.net=resnet32 for compression), SGD momentum 0.9, lr 0.1, batch 128,
                    256 epochs, warm-up 15, decays x0.1 at 96/192/224, weight decay 1e-4,
                    γ = 0.1, crop+flip. Needs an accelerator.
  cifar10 / cifar100  balanced CIFAR: 450 epochs, warm-up 15, decays at 200/300/400.

Table 1 (grid.table_teachers x grid.table_students, students repeated with the teacher
fixed; grid.students gives each student's objective and validation labels): each
student's temperature is chosen from (1, 3, 5) (+0.1 with teacher-labeled validation) by
validation worst-class accuracy on its first repeat and reused by the others. Trade-off
grid: L^tdf teachers x L^tdf students over grid.alphas with teacher-labeled validation at
grid.tradeoff_temperature. Every finished cell is stored under WORKDIR/cells; a rerun
skips it.
"""

import ml_collections

from configs import distill


def get_config(arg="fashion_mnist_lt"):
    config = distill.get_config("demo")
    config.student.temperature = "auto"
    config.grid = ml_collections.ConfigDict()
    config.grid.table_teachers = ("std", "bal", "rob", "group_dro")
    # Table 1's students by their name in the table: objective and validation labels.
    config.grid.students = ml_collections.ConfigDict(
        {
            "post-shift": {"objective": "post_shift", "validation_labels": "one_hot"},
            "std-d": {"objective": "std", "validation_labels": "teacher"},
            "bal-d": {"objective": "bal", "validation_labels": "teacher"},
            "rob-d (teacher val)": {"objective": "rob", "validation_labels": "teacher"},
            "rob-d (one-hot val)": {"objective": "rob", "validation_labels": "one_hot"},
            "AdaMargin": {"objective": "ada_margin", "validation_labels": "teacher"},
            "AdaAlpha": {"objective": "ada_alpha", "validation_labels": "teacher"},
            "Group DRO": {"objective": "group_dro", "validation_labels": "teacher"},
        }
    )
    config.grid.table_students = (
        "post-shift",
        "std-d",
        "bal-d",
        "rob-d (teacher val)",
        "rob-d (one-hot val)",
        "AdaMargin",
        "AdaAlpha",
        "Group DRO",
    )
    config.grid.repeats = 3
    config.grid.alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    config.grid.tradeoff_temperature = 1.0
    config.grid.tradeoff_repeats = 1

    if arg in ("fashion_mnist_lt", "fashion_mnist", "fashion_mnist_lt_compression"):
        long_tail = arg != "fashion_mnist"
        config.dataset.name = "fashion_mnist"
        config.dataset.imbalance_ratio = 100.0 if long_tail else None
        config.train.epochs = 10 if long_tail else 5
        config.train.batch_size = 128
        config.grid.tradeoff_repeats = 3
        if arg.endswith("_compression"):
            config.student.net_options.hidden_sizes = (64,)
            config.grid.table_teachers = ("std", "bal", "rob")
    elif arg == "digits_lt":
        config.train.epochs = 10
        config.grid.table_teachers = ("std", "rob")
        config.grid.table_students = ("post-shift", "std-d", "rob-d (teacher val)")
        config.grid.repeats = 1
        config.grid.alphas = (0.0, 1.0)
    elif arg in ("cifar10_lt", "cifar100_lt", "cifar10", "cifar100"):
        long_tail = arg.endswith("_lt")
        config.dataset.name = arg.removesuffix("_lt")
        config.dataset.imbalance_ratio = 100.0 if long_tail else None
        config.dataset.augment = "crop_flip"
        config.teacher.net = config.student.net = "resnet56"
        config.train.batch_size = 128
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.1
        config.train.warmup_epochs = 15
        config.train.epochs = 256 if long_tail else 450
        config.train.decay_epochs = (96, 192, 224) if long_tail else (200, 300, 400)
        config.train.drop_remainder = True
        config.grid.repeats = 10
        config.grid.tradeoff_repeats = 10
    else:
        raise ValueError(
            f"unknown variant {arg!r}; choose fashion_mnist_lt, fashion_mnist, "
            "fashion_mnist_lt_compression, digits_lt, "
            "cifar10_lt, cifar100_lt, cifar10 or cifar100"
        )
    return config
