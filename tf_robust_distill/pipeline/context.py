"""What a job shares between its teacher, its students and their objectives."""

import dataclasses
import types

import keras

from tf_robust_distill import data, precision
from tf_robust_distill.distribute import get_strategy


@dataclasses.dataclass(frozen=True)
class Context:
    """The data, the strategy and, once trained, the teacher and its cached labels.

    Immutable: `with_teacher` returns a new context instead of changing this one.

    Attributes:
      splits: the data (`trd.data.Splits`).
      strategy: the tf.distribute strategy every model is built under.
      teacher: the teacher's backbone (logits), once trained.
      teacher_dir: where the teacher and its cached bulk inferences are kept.
      teacher_labels: {"train": TeacherLabels, "val": ..., "test": ...} (`TopKTeacherLabels`
        with ``student.teacher_top_k``).
    """

    splits: data.Splits
    strategy: object
    teacher: keras.Model | None = None
    teacher_dir: str | None = None
    teacher_labels: types.MappingProxyType = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )

    def with_teacher(self, teacher, teacher_dir, teacher_labels):
        """This context with a teacher, its directory and its {split: TeacherLabels}."""
        return dataclasses.replace(
            self,
            teacher=teacher,
            teacher_dir=teacher_dir,
            teacher_labels=types.MappingProxyType(dict(teacher_labels)),
        )

    def teacher_probs(self, split, temperature=1.0, hard=False):
        """The teacher's labels on `split` as a student reads them: [N, C], or `TopKRows`
        for top-k labels (the input pipelines build their dense rows per batch)."""
        return self.teacher_labels[split].targets(temperature, hard)

    def num_examples(self, split):
        return len(getattr(self.splits, f"{split}_labels"))


def prepare(config):
    """Set the precision policy, pick the strategy, seed, load the data: a new `Context`.

    Nothing is written.
    """
    precision.set_policy(config.mixed_precision)
    strategy = get_strategy(config.strategy, config.tpu)
    keras.utils.set_random_seed(config.seed)
    return Context(load_splits(config), strategy)


def load_splits(config):
    """The data of ``config.dataset`` (`data.load`), split with ``config.seed``."""
    return data.load(
        config.dataset.name,
        seed=config.seed,
        imbalance_ratio=config.dataset.imbalance_ratio,
        data_dir=config.dataset.data_dir,
        full_test_set=config.dataset.get("full_test_set", False),
    )
