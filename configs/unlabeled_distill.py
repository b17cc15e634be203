r"""Distillation with unlabeled examples: objectives × labeled sizes × trials × soft/hard labels.

Run (from the repository root):

  python -m experiments.unlabeled_distill --config=configs/unlabeled_distill.py:local \
      --workdir=runs/unlabeled

Variants (the part after the colon):
  local     Fashion-MNIST; A of 600, 1200 or 3000 examples, |V| = 500; MLP teacher
            (512-512) -> MLP student (128); Adam 1e-3, batch 256; 20 epochs on A, 3 epochs of
            distillation on A ∪ V ∪ U (60,000 examples); the 8 objectives of `grid`, 3 trials,
            soft and hard labels, and weighted with weights re-estimated every epoch: 153
            cells. On 2 busy CPU cores an epoch of distillation takes 7-9 s, a cell about
            30 s (VID 40 s, weights every epoch 75 s), teacher and student on A 1 minute per
            labeled size: about 1.5 hours in all.
  smoke     digits, A of 300, |V| = 100, tiny MLPs, 2 epochs, vanilla and SLaM, one trial:
            what the tests run.
  cifar10   SLaM §4.2 / App. D.1 (weighted paper §3.1.2, App. C.1): MobileNet width 2 ->
            MobileNet width 1; A = 5000 ... 17500, |V| = 500, 3 trials.
  cifar100  the same with ResNet-110 -> ResNet-56.
  svhn      weighted paper §3.1.2: MobileNet width 2 -> width 1; A = 7500 ... 20000, |V| = 2000.
  celeb_a   SLaM §4.2 ('Male'): MobileNet width 2 -> ResNet-11; A = 2% ... 7% of the
            162,770 training images, |V| = 500; k(x) = 2 (binary).
  imagenet  SLaM §4.2 / App. D.1: ResNet-50 -> ResNet-18; A = 5% ... 20%, |V| = 10,000,
            4 trials; SGD momentum 0.9, 5 warm-up epochs to 0.1, x0.1 after 30/60/80 of 100
            epochs for every stage (teacher and student on A, distillation: weighted paper
            App. C.2); SLaM lower bound 0.6 (the paper searches 0.55 ... 0.70), k(x) = 5.
Test protocol of the paper variants: the full test set of the dataset (ImageNet: the
50,000 validation images), accuracy after every epoch and the best over the epochs (SLaM
§4.2: "keep the best test accuracy over all epochs"; weighted paper §3.1: "the best test
accuracy achieved by the student"), as `run_trial` records both.
The other image variants train every stage (teacher and student on A, distillation) for 200
epochs with Adam 1e-3 decayed x0.1 after epochs 80, 120 and 160 (App. C.1 / D.1; their
last step, x0.5 after epoch 180, needs per-boundary factors the schedule does not have),
with random horizontal flips and translations by 0.1. The papers state no batch size
(128 here) and no weight decay (1e-4 here). They need an accelerator.

The teacher and student sections are the main job's (configs/distill.py): nets, and the
student's objective. The teacher and the pre-trained student learn A with `std`.
  student.objective       an unlabeled_student name of the objective registry:
                          vanilla, weighted, slam, taylor_ce, poly, fidelity, vid, and the
                          compositions slam_fidelity, slam_taylor_ce, slam_poly,
                          weighted_fidelity, weighted_vid.
  student.objective_kw    its options, under its constructor's names (e.g. degree of
                          Taylor-CE, epsilon of Poly-1, normalize of SLaM, coefficient of
                          VID); a grid's cell takes those of grid.objective_kw its
                          objective reads.
  student.temperature     t_B: the teacher's soft labels on U are softmax(f/t_B).
  student.hard_labels     the student reads the teacher's one-hot argmax on U (Remark 3.1).

Settings of one student (``config.unlabeled``; the grid overrides num_labeled, trial and,
for debiased objectives, weights_every_n_epochs; and student.objective, hard_labels):
  num_labeled             N: the first N training examples are A.
  validation_size         |V|, drawn from the rest in each trial; U is what remains.
  trial                   seed of the V/U split and of the student's data order.
  train_on_validation     the student also trains on V with its true labels (SLaM §4.1).
  labeled_epochs          epochs of the teacher's and the student's training on A.
  labeled_temperature     t_A: None keeps A's true labels; a number gives A the teacher's
                          softmax(f/t_A) (SLaM App. D.5). Soft distillation only.
  slam_lower_bound, slam_threshold, slam_fixed_k
                          SLaM's isotonic lower bound lb, top-k threshold t and a fixed k
                          (None: data-dependent k(x)).
  weights_every_n_epochs  None: debiasing weights estimated once, before training; n: also
                          after every n-th epoch (weighted paper §3.2).
  weights_confidence      margin | entropy: the k-NN coordinates of weighted Algorithm 2.
  weights_num_neighbors   k of Algorithm 2; None: ⌈√|V| / 2⌉ (line 3).
  fidelity_beta           β of the fidelity weights exp(−β u(x)).
"""

import dataclasses

import ml_collections

from configs import distill
from configs.optional_fields import optional

PAPER_OBJECTIVES = (
    "vanilla",
    "taylor_ce",
    "poly",
    "vid",
    "weighted",
    "slam",
    "fidelity",
    "slam_fidelity",
)


@dataclasses.dataclass(frozen=True)
class PaperSetting:
    """One paper variant: the dataset, the nets, the labeled sizes and |V|."""

    dataset: str
    teacher_net: str
    teacher_net_options: dict
    student_net: str
    student_net_options: dict
    num_labeled: tuple
    validation_size: int


PAPER_SETTINGS = {
    "cifar10": PaperSetting(
        "cifar10",
        "mobilenet",
        {"alpha": 2.0},
        "mobilenet",
        {"alpha": 1.0},
        (5000, 7500, 10000, 12500, 15000, 17500),
        500,
    ),
    "cifar100": PaperSetting(
        "cifar100", "resnet110", {}, "resnet56", {}, (5000, 7500, 10000, 12500, 15000, 17500), 500
    ),
    "svhn": PaperSetting(
        "svhn_cropped",
        "mobilenet",
        {"alpha": 2.0},
        "mobilenet",
        {"alpha": 1.0},
        (7500, 10000, 12500, 15000, 17500, 20000),
        2000,
    ),
    "celeb_a": PaperSetting(
        "celeb_a",
        "mobilenet",
        {"alpha": 2.0},
        "resnet11",
        {},
        (3256, 4883, 6510, 8138, 9766, 11394),
        500,
    ),
    "imagenet": PaperSetting(
        "imagenet2012", "resnet50", {}, "resnet18", {}, (64058, 128116, 192174, 256232), 10000
    ),
}


def get_config(arg="local"):
    config = distill.get_config("demo")
    config.dataset.imbalance_ratio = None
    # The main job's sections, without what this job does not read.
    for role in ("teacher", "student"):
        del config[role]["dro_update_every"]
        del config[role]["seed"]
    del config.student["validation_labels"]
    config.student.objective = "vanilla"

    config.unlabeled = ml_collections.ConfigDict()
    config.unlabeled.num_labeled = 600
    config.unlabeled.validation_size = 500
    config.unlabeled.trial = 0
    config.unlabeled.train_on_validation = True
    config.unlabeled.labeled_epochs = 20
    config.unlabeled.labeled_temperature = optional(float)
    config.unlabeled.slam_lower_bound = 0.5
    config.unlabeled.slam_threshold = 0.9
    config.unlabeled.slam_fixed_k = optional(int)
    config.unlabeled.weights_every_n_epochs = optional(int)
    config.unlabeled.weights_confidence = "margin"
    config.unlabeled.weights_num_neighbors = optional(int)
    config.unlabeled.fidelity_beta = 1.0

    # Candidates per baseline for `pipeline.selection.select` (scored on V by accuracy).
    # SLaM App. D.1: "for weighted distillation we do a grid search over updating the
    # weights every {1, 25, 50, 100, 200} epochs", "for VID we search over {0.001, 0.1,
    # 0.2, 0.5, 0.8, 1.0, 2.0, 10.0, 50.0, 100.0}", "for the PolyLoss ... over {-1.0,
    # -0.8, -0.6, -0.4, -0.2, 0.5, 1.0, 2.0, 50.0, 100.0}"; SLaM §4.2 (ImageNet): lb in
    # 0.55 ... 0.70. The papers give no range for the Taylor order, β, k and T: ours.
    config.selection = ml_collections.ConfigDict(
        {
            "vid": {"coefficient": (0.001, 0.1, 0.2, 0.5, 0.8, 1.0, 2.0, 10.0, 50.0, 100.0)},
            "poly": {"epsilon": (-1.0, -0.8, -0.6, -0.4, -0.2, 0.5, 1.0, 2.0, 50.0, 100.0)},
            "taylor_ce": {"degree": (1, 2, 4, 6)},
            "fidelity": {"fidelity_beta": (0.25, 0.5, 1.0, 2.0, 4.0)},
            "slam": {"slam_lower_bound": (0.5, 0.55, 0.6, 0.65, 0.7)},
            "weighted": {
                "weights_every_n_epochs": (1, 25, 50, 100, 200),
                "weights_num_neighbors": (None, 5, 10, 20),
            },
            "temperature": {"temperature": (0.5, 1.0, 2.0, 5.0)},
        }
    )

    config.grid = ml_collections.ConfigDict()
    config.grid.objectives = PAPER_OBJECTIVES
    # The options of the grid's objectives (the papers' values); each cell's student takes
    # those its objective reads: Taylor-CE order, Poly-1 ε, SLaM's eq. (1) normalization
    # by k(x) − 1, VID's λ.
    config.grid.objective_kw = ml_collections.ConfigDict(
        {"degree": 2, "epsilon": 2.0, "normalize": False, "coefficient": 1.0}
    )
    config.grid.num_labeled = (600, 1200, 3000)
    config.grid.trials = (0, 1, 2)
    config.grid.labels = ("soft", "hard")
    # Weighted paper Figure 9: `weighted` with its weights estimated once (None) and
    # re-estimated after every epoch (1), soft labels, every labeled size and trial.
    config.grid.weights_schedules = (None, 1)
    # SLaM App. D.5 (Figure 6): vanilla and SLaM with teacher soft labels at temperature t_A
    # on A and t_B on U, every pair of `temperatures`, soft labels, every trial; the table
    # reports the best pair per method and labeled size, as the paper does.
    config.grid.temperature_ablation = ml_collections.ConfigDict()
    config.grid.temperature_ablation.num_labeled = (600,)
    config.grid.temperature_ablation.objectives = ("vanilla", "slam")
    config.grid.temperature_ablation.temperatures = (0.5, 1.0, 2.0, 5.0)

    if arg == "local":
        distill.fashion_mnist_mlps(config, student_hidden_sizes=(128,), epochs=3, batch_size=256)
        config.verbose = 0
    elif arg == "smoke":
        config.unlabeled.num_labeled = 300
        config.unlabeled.validation_size = 100
        config.unlabeled.labeled_epochs = 12
        config.teacher.net_options.hidden_sizes = (64,)
        config.student.net_options.hidden_sizes = (32,)
        config.train.epochs = 2
        config.train.batch_size = 32
        config.verbose = 0
        config.grid.objectives = ("vanilla", "slam")
        config.grid.num_labeled = (300,)
        config.grid.trials = (0,)
        config.grid.temperature_ablation.num_labeled = ()
    elif arg in PAPER_SETTINGS:
        _paper(config, arg)
    else:
        raise ValueError(
            f"unknown variant {arg!r}; choose local, smoke or one of {', '.join(PAPER_SETTINGS)}"
        )
    config.unlabeled.num_labeled = config.grid.num_labeled[0]
    return config


def _paper(config, arg):
    """The papers' setting for `arg` (App. C.1 / D.1 of the two papers)."""
    setting = PAPER_SETTINGS[arg]
    config.dataset.name = setting.dataset
    config.dataset.augment = "flip_translate"
    config.teacher.net = setting.teacher_net
    config.teacher.net_options = ml_collections.ConfigDict(setting.teacher_net_options)
    config.student.net = setting.student_net
    config.student.net_options = ml_collections.ConfigDict(setting.student_net_options)
    config.unlabeled.validation_size = setting.validation_size
    config.unlabeled.labeled_epochs = 200
    sizes = setting.num_labeled
    config.grid.num_labeled = sizes
    # The paper's Figure 6 is on CIFAR-100 only.
    config.grid.temperature_ablation.num_labeled = sizes if arg == "cifar100" else ()
    config.grid.temperature_ablation.temperatures = (
        0.01,
        0.1,
        0.5,
        0.8,
        1.0,
        2.0,
        5.0,
        10.0,
        100.0,
    )
    config.train.epochs = 200
    config.train.batch_size = 128
    config.train.optimizer = "adam"
    config.train.learning_rate = 1e-3
    config.train.decay_epochs = (80, 120, 160)
    config.train.decay_factor = 0.1
    if arg == "celeb_a":
        config.unlabeled.slam_fixed_k = 2
    elif arg == "imagenet":
        config.dataset.augment = "crop_flip"
        config.unlabeled.labeled_epochs = 100
        config.unlabeled.slam_lower_bound = 0.6
        config.unlabeled.slam_fixed_k = 5
        config.grid.trials = (0, 1, 2, 3)
        config.train.epochs = 100
        config.train.optimizer = "sgd"
        config.train.learning_rate = 0.1
        config.train.momentum = 0.9
        config.train.warmup_epochs = 5
        config.train.decay_epochs = (30, 60, 80)
        config.train.drop_remainder = True
