r"""SoTeacher (Dong et al.): standard vs student-oriented teachers, each distilled by KD.

Run (from the repository root):

  python -m experiments.soteacher --config=configs/soteacher.py:local --workdir=runs/soteacher

Variants:
  local     Fashion-MNIST (60k/5k/5k), MLP teacher (512-512) -> MLP student (64), Adam 1e-3,
            8 epochs each, 3 seeds; the weight and schedule sweep on seed 0. CPU, about an hour.
  smoke     digits, 2 epochs, 1 seed, a one-value sweep: what the tests run.
  cnn_local Fashion-MNIST with crop+flip, ResNet-8 teacher at base width 8 (19k weights)
            -> MLP student (64 hidden units, the cheapest student to run beside an online
            teacher), SGD 0.05 momentum 0.9, batch 128, weight decay 5e-4; the teacher 4
            epochs (x0.1 at 3), the student 3 (x0.1 at 2); 3 seeds; arms: the Lipschitz
            term's convolution form (entrywise, operator) and the student's teacher (online,
            cached). No sweeps. 36 cells, 18 teachers: about an hour on 2 CPU cores beside
            one other training job, an hour and a half beside two; 75 minutes of CPU time
            (measured: REPRODUCTION.md §2).
  cifar100  the paper's setting (App. D): WRN-40-2 -> WRN-16-2, SGD 0.05 momentum 0.9,
            batch 64, 240 epochs, decays x0.1 at 150/180/210, weight decay 5e-4 on every
            parameter, λ_LR = 1e-5 on the entry-wise convolution term (the released code's),
            λ_CR^max = 1 (linear ramp over all epochs), KD α = 0.5, T = 4, crop+flip
            augmentation with the teacher run on each augmented batch, the whole test set.
            Needs an accelerator.
  tinyimagenet  App. D: ResNet-34 -> ResNet-18, SGD 0.1 momentum 0.9, batch 128, 90 epochs,
            decays x0.1 at 30/60 (the student: 100 epochs, one more decay at 90), λ_LR =
            1e-6, rotation (≤ 20°) + crop + flip; otherwise as cifar100. Tiny-ImageNet is not
            in TFDS: save it as tiny_imagenet.npz (x/y_train, x/y_test = its validation set)
            or pass --config.dataset.name=npz:PATH. Needs an accelerator.

The grid is resumable: every finished (teacher objective, hyper-parameters, seed) cell
is stored under WORKDIR/cells and a rerun skips it.
"""

import ml_collections

from configs import distill
from configs.optional_fields import optional


def get_config(arg="local"):
    config = distill.get_config("demo")
    config.dataset.imbalance_ratio = None
    # SoTeacher, App. D.1: λ_LR, λ_CR^max, the λ_CR schedule and its ramp-up (None: over
    # all epochs). The no-LR / no-CR ablations and the std teacher of the grid take the
    # options they read.
    config.teacher.objective = "soteacher"
    config.teacher.objective_kw = ml_collections.ConfigDict(
        {
            "lipschitz_weight": 1e-5,
            "consistency_weight_max": 1.0,
            "schedule": "linear",
            "rampup_epochs": optional(int),
            "buffer_dtype": "float32",
            # "operator" (the paper's text) or "entrywise" (the released code's Σ |K|)
            "lipschitz_convolution": "operator",
        }
    )
    config.student.objective = "kd"
    config.student.objective_kw = ml_collections.ConfigDict({"alpha": 0.5})
    config.student.temperature = 4.0

    config.grid = ml_collections.ConfigDict()
    config.grid.teachers = ("std", "soteacher", "soteacher_no_lr", "soteacher_no_cr")
    config.grid.seeds = (0, 1, 2)
    config.grid.lipschitz_weights = (1e-4, 1e-3, 1e-2)
    config.grid.consistency_weights = (0.5, 2.0, 8.0)
    config.grid.schedules = ("linear", "cosine", "cyclic", "piecewise")
    # Arms of the main comparison (empty: as configured): the Lipschitz term's convolution
    # form, and the student's teacher run online (True) or cached (False).
    config.grid.lipschitz_convolutions = ()
    config.grid.online_teachers = ()

    if arg == "local":
        distill.fashion_mnist_mlps(config, student_hidden_sizes=(64,), epochs=8, batch_size=128)
    elif arg == "smoke":
        config.train.epochs = 2
        config.grid.teachers = ("std", "soteacher")
        config.grid.seeds = (0,)
        config.grid.lipschitz_weights = (1e-3,)
        config.grid.consistency_weights = ()
        config.grid.schedules = ("cosine",)
    elif arg == "cnn_local":
        config.dataset.name = "fashion_mnist"
        config.dataset.augment = "crop_flip"
        config.teacher.net = "resnet8"
        config.teacher.net_options.base_width = 8
        config.student.net_options.hidden_sizes = (64,)
        config.teacher.weight_decay = config.student.weight_decay = 5e-4
        config.train.epochs = 4
        config.train.batch_size = 128
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.05
        config.train.decay_epochs = (3,)
        config.student.train_overrides = ml_collections.ConfigDict(
            {"epochs": 3, "decay_epochs": (2,)}
        )
        config.grid.lipschitz_convolutions = ("entrywise", "operator")
        config.grid.online_teachers = (False, True)
        config.grid.lipschitz_weights = ()
        config.grid.consistency_weights = ()
        config.grid.schedules = ()
    elif arg == "cifar100":
        _paper_protocol(config)
        config.dataset.name = "cifar100"
        config.teacher.net = "wrn_40_2"
        config.student.net = "wrn_16_2"
        config.train.epochs = 240
        config.train.batch_size = 64
        config.train.learning_rate = 0.05
        config.train.decay_epochs = (150, 180, 210)
        config.grid.lipschitz_weights = (1e-6, 1e-5, 1e-4)
    elif arg == "tinyimagenet":
        _paper_protocol(config)
        config.dataset.name = "npz:tiny_imagenet.npz"
        config.teacher.net = "resnet34"
        config.student.net = "resnet18"
        config.teacher.objective_kw.lipschitz_weight = 1e-6
        config.dataset.augment = "rotate_crop_flip"
        config.student.train_overrides = ml_collections.ConfigDict(
            {"epochs": 100, "decay_epochs": (30, 60, 90)}
        )
        config.train.epochs = 90
        config.train.batch_size = 128
        config.train.learning_rate = 0.1
        config.train.decay_epochs = (30, 60)
        config.grid.lipschitz_weights = (1e-7, 1e-6, 1e-5)
    else:
        raise ValueError(
            f"unknown variant {arg!r}; choose local, smoke, cnn_local, cifar100 or tinyimagenet"
        )
    return config


def _paper_protocol(config):
    """App. D's settings shared by its datasets: crop+flip, weight decay 5e-4, SGD, λ_CR grid;
    and the released code's (``train_teacher.py``, ``train_student.py``): the entry-wise
    Lipschitz term, weight decay on every parameter, the teacher run on every augmented
    batch, the whole test set."""
    config.dataset.augment = "crop_flip"
    config.dataset.full_test_set = True
    config.teacher.weight_decay = config.student.weight_decay = 5e-4
    config.teacher.decay_all_weights = config.student.decay_all_weights = True
    config.teacher.objective_kw.lipschitz_convolution = "entrywise"
    config.student.online_teacher = True
    config.train.optimizer = "sgd"
    config.grid.consistency_weights = (0.5, 1.0, 2.0)
