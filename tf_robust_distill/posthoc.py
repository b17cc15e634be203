"""Post-shift: reweight a fixed teacher's probabilities for worst-class accuracy.

Narasimhan & Menon (2021), "Training over-parameterized models with non-decomposable
objectives", Algorithm 3, as the robust distillation paper uses it (App. E.3.2): the
scorer f_y(x) = log(γ_y p^t_y(x)), with γ on the simplex chosen to maximize the
worst-class accuracy (minimum per-class recall) on the validation set. γ is searched by
exponentiated-gradient steps γ_y ∝ γ_y exp(η (1 − recall_y)), which raise the weight
of the classes the current scorer gets wrong; the iterate with the best validation
worst-class accuracy is kept. The search starts from uniform γ (the teacher itself), so
the result is never worse than the teacher on the validation set.
"""

import numpy as np

from tf_robust_distill import checks
from tf_robust_distill.estimators.exponentiated_gradient import exponentiated_gradient_step
from tf_robust_distill.metrics import per_class_recall


def shifted_scores(teacher_probs, log_class_weights):
    """f_y(x) = log(γ_y p^t_y(x)) = log p^t_y(x) + log γ_y, shape [N, m] (−inf where p = 0)."""
    with np.errstate(divide="ignore"):
        return np.log(teacher_probs) + log_class_weights


class PostShift:
    """Post-shift baseline: ``PostShift().fit(probs_val, labels_val).predict(probs)``.

    Args:
      step_size: η > 0 of the exponentiated-gradient search over γ.
      num_iterations: number of EG steps (the search scores num_iterations + 1 iterates).

    Attributes (after ``fit``):
      class_weights_: [m] γ on the simplex.
      validation_worst_class_accuracy_: worst-class accuracy of the scorer on the
        validation set it was fit on.
    """

    def __init__(self, step_size=1.0, num_iterations=100):
        if not step_size > 0:
            raise ValueError(f"step_size must be > 0, got {step_size}")
        if not (checks.is_integer(num_iterations) and num_iterations >= 0):
            raise ValueError(f"num_iterations must be an integer >= 0, got {num_iterations!r}")
        self.step_size = float(step_size)
        self.num_iterations = int(num_iterations)

    def fit(self, teacher_probs, labels):
        """Choose γ on validation teacher probabilities [N, m] and labels [N]; returns self."""
        probs = checks.as_probabilities(teacher_probs, name="teacher_probs")
        num_classes = probs.shape[1]
        labels = checks.as_labels(labels, num_classes, num_examples=len(probs))
        missing = np.setdiff1d(np.arange(num_classes), labels)
        if missing.size:
            raise ValueError(
                f"worst-class accuracy needs every class in the validation set; classes "
                f"{missing.tolist()} have no example."
            )
        log_weights = np.full(num_classes, -np.log(num_classes))
        best_worst, best_log_weights = -np.inf, log_weights
        for _ in range(self.num_iterations + 1):
            recall = per_class_recall(labels, shifted_scores(probs, log_weights), num_classes)
            if recall.min() > best_worst:
                best_worst, best_log_weights = recall.min(), log_weights
            log_weights = exponentiated_gradient_step(log_weights, 1.0 - recall, self.step_size)
        self.class_weights_ = np.exp(best_log_weights)
        self.validation_worst_class_accuracy_ = float(best_worst)
        return self

    def predict(self, teacher_probs):
        """Scores log(γ_y p^t_y(x)) [N, m]; their argmax is the post-shifted prediction."""
        if not hasattr(self, "class_weights_"):
            raise ValueError("PostShift.predict needs fit() first.")
        probs = checks.as_probabilities(teacher_probs, name="teacher_probs")
        checks.check_num_columns(probs, len(self.class_weights_), "teacher_probs")
        return shifted_scores(probs, np.log(self.class_weights_))
