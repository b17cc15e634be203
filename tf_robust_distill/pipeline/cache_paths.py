"""Where a teacher's bulk inferences are cached, beside the teacher: one spelling of the path."""

import os

CACHE_DIRECTORY = "teacher_labels"


def teacher_cache_path(teacher_dir, split, kind=None, top_k=None):
    """``teacher_dir/teacher_labels/<split>.npz`` (logits), ``<split>_top<k>.npz`` (top-k
    logits) or ``<split>_<kind>.npz`` (features).

    Args:
      split: the split the teacher labeled ("train", "val", "test").
      kind: None for the `TeacherLabels` logits, else the `TeacherFeatures` kind
        ("features", "attention").
      top_k: the k of top-k teacher labels (`TopKTeacherLabels`); None for dense ones.
    """
    name = split if kind is None else f"{split}_{kind}"
    name = name if top_k is None else f"{name}_top{top_k}"
    return os.path.join(teacher_dir, CACHE_DIRECTORY, f"{name}.npz")
