r"""SoTeacher (Dong et al.): standard vs student-oriented teachers, each distilled by KD.

Run (from the repository root):

  python -m experiments.soteacher --config=configs/soteacher.py:local --workdir=runs/soteacher

Variants:
  local     Fashion-MNIST (60k/5k/5k), MLP teacher (512-512) -> MLP student (64), Adam 1e-3,
            8 epochs each, 3 seeds; the weight and schedule sweep on seed 0. CPU, about an hour.
  smoke     digits, 2 epochs, 1 seed, a one-value sweep: what the tests run.
  cifar100  the paper's setting (App. D): WRN-40-2 -> WRN-16-2, SGD 0.05 momentum 0.9,
            batch 64, 240 epochs, decays x0.1 at 150/180/210, weight decay 5e-4,
            λ_LR = 1e-5, λ_CR^max = 1 (linear ramp over all epochs), KD α = 0.5, T = 4,
            crop+flip augmentation. Needs an accelerator.
  tinyimagenet  App. D: ResNet-34 -> ResNet-18, SGD 0.1 momentum 0.9, batch 128, 90 epochs,
            decays x0.1 at 30/60, weight decay 5e-4, λ_LR = 1e-6. Tiny-ImageNet is not in
            TFDS: save it as tiny_imagenet.npz (x/y_train, x/y_test = its validation set)
            or pass --config.dataset.name=npz:PATH. The paper's rotation augmentation and
            the student's 10 extra epochs are not expressed here. Needs an accelerator.

The grid is resumable: every finished (teacher objective, hyper-parameters, seed) cell
is stored under WORKDIR/cells and a rerun skips it.
"""

import ml_collections
from ml_collections import config_dict

from configs import distill


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
            "rampup_epochs": config_dict.placeholder(int),
            "buffer_dtype": "float32",
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

    if arg == "local":
        config.dataset.name = "fashion_mnist"
        config.teacher.net_options.hidden_sizes = (512, 512)
        config.student.net_options.hidden_sizes = (64,)
        config.train.epochs = 8
        config.train.batch_size = 128
    elif arg == "smoke":
        config.train.epochs = 2
        config.grid.teachers = ("std", "soteacher")
        config.grid.seeds = (0,)
        config.grid.lipschitz_weights = (1e-3,)
        config.grid.consistency_weights = ()
        config.grid.schedules = ("cosine",)
    elif arg == "cifar100":
        config.dataset.name = "cifar100"
        config.dataset.augment = "crop_flip"
        config.teacher.net = "wrn_40_2"
        config.student.net = "wrn_16_2"
        config.teacher.weight_decay = config.student.weight_decay = 5e-4
        config.train.epochs = 240
        config.train.batch_size = 64
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.05
        config.train.decay_epochs = (150, 180, 210)
        config.grid.lipschitz_weights = (1e-6, 1e-5, 1e-4)
        config.grid.consistency_weights = (0.5, 1.0, 2.0)
    elif arg == "tinyimagenet":
        config.dataset.name = "npz:tiny_imagenet.npz"
        config.dataset.augment = "crop_flip"
        config.teacher.net = "resnet34"
        config.student.net = "resnet18"
        config.teacher.weight_decay = config.student.weight_decay = 5e-4
        config.teacher.objective_kw.lipschitz_weight = 1e-6
        config.train.epochs = 90
        config.train.batch_size = 128
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.1
        config.train.decay_epochs = (30, 60)
        config.grid.lipschitz_weights = (1e-7, 1e-6, 1e-5)
        config.grid.consistency_weights = (0.5, 1.0, 2.0)
    else:
        raise ValueError(f"unknown variant {arg!r}; choose local, smoke, cifar100 or tinyimagenet")
    return config
