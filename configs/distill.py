r"""The main job: train a teacher, label the training set once, train a student, evaluate both.

Run (from the repository root):

  python -m experiments.distill --config=configs/distill.py:demo --workdir=runs/demo

Variants (the part after the colon):
  (none)      the defaults below: digits as published (no long tail), MLP teacher and
              student, 30 epochs; the base for your own data.
  demo        digits with a long tail (ratio 10), MLP teacher and student; about a
              minute on 2 CPU cores. What `make demo` runs.
  local       Fashion-MNIST-LT (ratio 100), cnn_small teacher and student; CPU minutes.
  cifar10_lt  the robust distillation paper's CIFAR-10-LT compression setting
              (App. E.2.2): ResNet-56 teacher -> ResNet-32 student, SGD momentum 0.9,
              lr 0.1 (ours: the paper gives none), batch 128, 256 epochs, warm-up 15,
              decays at 96/192/224, weight decay 1e-4, crop+flip augmentation, DRO
              multipliers updated every 32 steps (see configs/robust_distill.py).
              Needs an accelerator.
  cifar100_lt the same on CIFAR-100-LT at the appendix's batch 1024 (same lr).

Bring your own data:

  python -m experiments.distill --config=configs/distill.py --workdir=runs/mine \
      --config.dataset.name=npz:/path/data.npz --config.teacher.net=mlp --config.student.net=mlp

trains on all of the data; add --config.dataset.imbalance_ratio=R for a long tail of
ratio R. Every field that may be None (imbalance_ratio, augment, worst_k, ...) takes
--config.FIELD=None on the command line.

Bring your own teacher or net:

  --config.teacher.path=/path/teacher.keras    label with this trained model, train none
  --config.student.net=mypackage.nets:build    a net factory of your own (teacher.net too)

The factory is called as build(num_classes, input_shape, *, name, weight_decay,
**net_options) and returns a keras.Model whose output is the logits.

Objectives: each role section holds `objective` (a name of the objective registry,
tf_robust_distill.objectives.registry) and `objective_kw`, the objective's options under
its constructor's own names; the job supplies only what it derives from the data (class
priors, sizes, the teacher's feature widths, the student's temperature and validation
labels). teacher.objective in {std, bal, rob, tdf, group_dro, soteacher, soteacher_no_lr,
soteacher_no_cr}; student.objective in {std, bal, rob, tdf, group_dro, kd, ada_margin,
ada_alpha, fitnets, at, post_shift, none} (`none` trains no student). A trade-off student:

  --config.student.objective=tdf --config.student.objective_kw="{'alpha': 0.5}"
"""

import ml_collections

from configs.optional_fields import optional

# The paper configs' interval of the DRO multiplier updates, in optimizer steps; its
# source is in configs/robust_distill.py.
DRO_UPDATE_EVERY = 32


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Deterministic TensorFlow ops: the same seed gives the same results.json, and a run
    # resumed from its checkpoint the same as an uninterrupted one (a little slower).
    config.deterministic = True
    config.strategy = "default"
    config.tpu = optional(str)
    # float32 | mixed_bfloat16 (TPU) | mixed_float16 (GPU, with loss scaling); see precision.py
    config.mixed_precision = "float32"
    config.verbose = 2

    config.dataset = ml_collections.ConfigDict()
    config.dataset.name = "digits"
    config.dataset.imbalance_ratio = optional(float)
    config.dataset.data_dir = optional(str)
    config.dataset.augment = optional(str)
    # True: test on the whole published test set (SoTeacher); val stays its seeded half.
    config.dataset.full_test_set = False

    config.teacher = ml_collections.ConfigDict()
    # A .keras file of a trained teacher: the job labels the data with it and trains no
    # teacher (the other teacher fields are then unused); None: train one.
    config.teacher.path = optional(str)
    # A registered net (tf_robust_distill.nets.names()) or "package.module:function", a
    # factory (num_classes, input_shape, *, name, weight_decay) -> keras.Model of logits.
    config.teacher.net = "mlp"
    config.teacher.net_options = ml_collections.ConfigDict()  # e.g. hidden_sizes for mlp
    config.teacher.weight_decay = 1e-4
    config.teacher.decay_all_weights = False  # True: biases and batch-norm weights too
    # Fields of `train` this role changes (e.g. learning_rate, epochs, decay_epochs).
    config.teacher.train_overrides = ml_collections.ConfigDict()
    config.teacher.objective = "std"
    config.teacher.objective_kw = ml_collections.ConfigDict()
    # Objectives with DRO multipliers (rob, tdf, group_dro with use_validation): update
    # them every this many steps; None: every epoch.
    config.teacher.dro_update_every = optional(int)
    config.teacher.seed = optional(int)  # None: config.seed

    config.student = ml_collections.ConfigDict()
    config.student.net = "mlp"  # as teacher.net
    config.student.net_options = ml_collections.ConfigDict()
    config.student.weight_decay = 1e-4
    config.student.decay_all_weights = False  # True: biases and batch-norm weights too
    # Fields of `train` this role changes (e.g. learning_rate, epochs, decay_epochs).
    config.student.train_overrides = ml_collections.ConfigDict()
    config.student.objective = "std"
    config.student.objective_kw = ml_collections.ConfigDict()
    # A number, or "auto": the best of (1, 3, 5) (+ 0.1 for a student whose DRO
    # multipliers use teacher-labeled validation) by validation worst-class accuracy
    # (robust distillation paper §6).
    config.student.temperature = ml_collections.FieldReference(1.0, field_type=object)
    config.student.hard_labels = False
    # None: the teacher's dense labels. k: only its k largest logits per example, their
    # classes and the rest's log-mass are cached (about k/C of the dense cache); the rest of
    # each row is spread uniformly over the other classes (tf_robust_distill/data/topk_rows.py).
    config.student.teacher_top_k = optional(int)
    # True: the teacher runs in the student's step on each (augmented) batch
    # (`objectives.OnlineTeacher`); False: the student reads labels cached on clean images.
    config.student.online_teacher = False
    # The labels of the student's validation set: "teacher" (Algorithm 1) or "one_hot"
    # (eq. 10); the DRO multipliers' risks and the temperature candidates read it.
    config.student.validation_labels = "teacher"
    config.student.dro_update_every = optional(int)
    config.student.seed = optional(int)  # None: config.seed

    config.train = ml_collections.ConfigDict()
    config.train.epochs = 30
    config.train.batch_size = 64
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-3
    config.train.momentum = 0.9
    config.train.warmup_epochs = 0
    config.train.decay_epochs = ()
    config.train.decay_factor = 0.1
    config.train.drop_remainder = False

    config.eval = ml_collections.ConfigDict()
    config.eval.batch_size = 512
    config.eval.worst_k = optional(int)

    if arg == "demo":
        config.dataset.imbalance_ratio = 10.0
        config.train.epochs = 40
    elif arg == "local":
        config.dataset.name = "fashion_mnist"
        config.dataset.imbalance_ratio = 100.0
        config.teacher.net = config.student.net = "cnn_small"
        config.train.epochs = 15
        config.train.batch_size = 128
    elif arg in ("cifar10_lt", "cifar100_lt"):
        config.dataset.name = arg.removesuffix("_lt")
        config.dataset.imbalance_ratio = 100.0
        config.dataset.augment = "crop_flip"
        config.teacher.net = "resnet56"
        config.student.net = "resnet32"
        config.train.epochs = 256
        config.train.batch_size = 128 if arg == "cifar10_lt" else 1024
        config.teacher.dro_update_every = config.student.dro_update_every = DRO_UPDATE_EVERY
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.1
        config.train.warmup_epochs = 15
        config.train.decay_epochs = (96, 192, 224)
        config.train.drop_remainder = True
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; choose demo, local, cifar10_lt or cifar100_lt")
    return config


def fashion_mnist_mlps(config, student_hidden_sizes, epochs, batch_size):
    """The CPU variant of the jobs on balanced data: Fashion-MNIST, an MLP teacher (512-512)
    and an MLP student with ``student_hidden_sizes``, ``epochs`` of batches of ``batch_size``."""
    config.dataset.name = "fashion_mnist"
    config.teacher.net_options.hidden_sizes = (512, 512)
    config.student.net_options.hidden_sizes = student_hidden_sizes
    config.train.epochs = epochs
    config.train.batch_size = batch_size
