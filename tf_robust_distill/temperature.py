"""Choosing the distillation temperature T on validation worst-class accuracy.

Robust distillation paper (Wang et al.), §6 and App. E.2.2: the student is trained on
the teacher's softmax(f^t / T) for T in {1, 3, 5} (and also T = 0.1 when the
validation set is labeled by the teacher), and the T whose student has the best
worst-class accuracy on the validation set is kept.
"""

import math
from collections.abc import Callable, Mapping

from tf_robust_distill.checks import check_temperature

TEMPERATURES = (1.0, 3.0, 5.0)
TEACHER_VALIDATION_TEMPERATURES = (0.1, *TEMPERATURES)


def candidate_temperatures(validation_labels="one_hot"):
    """The temperatures to try: (1, 3, 5), plus 0.1 with ``validation_labels='teacher'``."""
    if validation_labels == "one_hot":
        return TEMPERATURES
    if validation_labels == "teacher":
        return TEACHER_VALIDATION_TEMPERATURES
    raise ValueError(f"validation_labels must be 'one_hot' or 'teacher', got {validation_labels!r}")


def select_temperature(validation_worst_class_accuracy, temperatures=None):
    """The temperature whose student has the highest validation worst-class accuracy.

    Args:
      validation_worst_class_accuracy: a dict {T: accuracy} of results already computed,
        or a callable T -> accuracy (e.g. train a student at T and evaluate it), called
        once per temperature in order.
      temperatures: the candidates; by default the dict's keys, or (1, 3, 5) for a callable.

    Returns:
      The best T; ties go to the first candidate.
    """
    if isinstance(validation_worst_class_accuracy, Mapping):
        results = validation_worst_class_accuracy
        temperatures = tuple(results) if temperatures is None else tuple(temperatures)
        missing = [t for t in temperatures if t not in results]
        if missing:
            raise ValueError(f"no validation result for temperatures {missing}")
        score = results.__getitem__
    elif isinstance(validation_worst_class_accuracy, Callable):
        temperatures = TEMPERATURES if temperatures is None else tuple(temperatures)
        score = validation_worst_class_accuracy
    else:
        raise TypeError(
            "validation_worst_class_accuracy must be a dict {T: accuracy} or a callable "
            f"T -> accuracy, got {type(validation_worst_class_accuracy).__name__}"
        )
    if not temperatures:
        raise ValueError("select_temperature needs at least one temperature")
    for temperature in temperatures:
        check_temperature(temperature, "each temperature")
    best_temperature, best_accuracy = None, -math.inf
    for temperature in temperatures:
        accuracy = float(score(temperature))
        if math.isnan(accuracy):
            raise ValueError(f"the validation worst-class accuracy at T={temperature} is NaN")
        if accuracy > best_accuracy:
            best_temperature, best_accuracy = temperature, accuracy
    return best_temperature
