"""Where a teacher's bulk inferences are cached, beside the teacher: one spelling of the path."""

import os

CACHE_DIRECTORY = "teacher_labels"


def teacher_cache_path(teacher_dir, split, kind=None):
    """``teacher_dir/teacher_labels/<split>.npz`` (logits) or ``<split>_<kind>.npz`` (features).

    Args:
      split: the split the teacher labeled ("train", "val", "test").
      kind: None for the `TeacherLabels` logits, else the `TeacherFeatures` kind
        ("features", "attention").
    """
    name = split if kind is None else f"{split}_{kind}"
    return os.path.join(teacher_dir, CACHE_DIRECTORY, f"{name}.npz")
