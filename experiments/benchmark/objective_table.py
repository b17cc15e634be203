"""The objectives the benchmark times: registry names, the role each is timed in, its options.

The robust family is timed as students (distill=True, cached teacher probabilities),
fitted without multiplier updates (``multiplier_update_required=False``: the train step is
the same, and no validation pass runs in it);
SoTeacher is a teacher objective (labels), with the paper's λ_LR = 1e-5 (CIFAR-100) and
λ_CR^max = 1, and its two terms apart: no-LR (λ_LR = 0: the consistency term and its
buffer) and no-CR (λ_CR^max = 0: the Lipschitz term). Models are built by the objective
registry (`registry.build`).
"""

from experiments.benchmark.settings import TEACHER_FEATURE_DIM
from tf_robust_distill.objectives import registry

TEACHER, STUDENT, UNLABELED = registry.TEACHER, registry.STUDENT, registry.UNLABELED_STUDENT
# name -> (role, objective_kw)
OBJECTIVES = {
    "std": (STUDENT, {}),
    "kd": (STUDENT, {"alpha": 0.5}),
    "bal": (STUDENT, {}),
    "rob": (STUDENT, {"multiplier_update_required": False}),
    "tdf": (STUDENT, {"alpha": 0.5, "multiplier_update_required": False}),
    "group_dro": (STUDENT, {}),
    "ada_margin": (STUDENT, {}),
    "ada_alpha": (STUDENT, {}),
    "weighted": (UNLABELED, {}),
    "slam": (UNLABELED, {}),
    "soteacher": (TEACHER, {"lipschitz_weight": 1e-5, "consistency_weight_max": 1.0}),
    "soteacher_no_lr": (TEACHER, {"consistency_weight_max": 1.0}),
    "soteacher_no_cr": (TEACHER, {"lipschitz_weight": 1e-5}),
    "vid": (UNLABELED, {}),
    "fitnets": (STUDENT, {"beta": 50.0 / TEACHER_FEATURE_DIM}),
}


def derived_arguments(batches):
    """What a job would derive from the benchmark's batches (KD's T = 4, one-hot DRO risks)."""
    return {
        "class_priors": batches.class_priors(),
        "num_train_examples": batches.num_examples,
        "teacher_feature_dim": TEACHER_FEATURE_DIM,
        "validation_labels": "one_hot",
        "temperature": 4.0,
    }
