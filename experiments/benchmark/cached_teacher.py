"""Cached teacher probabilities against a teacher run in every step: the package's online
teacher (`objectives.OnlineTeacher`, the honest baseline: the same student step) and the
keras-io Distiller."""

import keras
import numpy as np

from experiments.benchmark.models import objective_dataset, optimizer
from experiments.benchmark.settings import IMAGE_SHAPE, NUM_CLASSES
from experiments.benchmark.timing import (
    CLOCKS,
    compare,
    interleaved_step_seconds,
    ratio_cell,
    warm_up,
)
from tf_robust_distill import nets, objectives, reporting

# (student, teacher, teacher's net options) of the cached-teacher comparison.
TEACHER_PAIRS = (
    ("cnn_small", "cnn_small", {}),
    ("mlp", "mlp", {}),
    ("mlp", "mlp", {"hidden_sizes": (768, 768)}),
)


class Distiller(keras.Model):
    """The Keras knowledge-distillation example's Distiller: the teacher runs in every step.

    As in keras-io ``examples/vision/knowledge_distillation.py``: ``compute_loss`` runs the
    teacher on the batch and mixes the student's sparse cross-entropy with T²·KL between the
    softened teacher and student predictions; the default ``train_step`` does the rest. The
    teacher is frozen (the example means it to be; a trainable one would cost a backward pass),
    and ``call`` passes ``training`` on to the student: the example's student has no batch
    normalization, so it leaves it out, but without it ours would run batch norm in inference
    mode during training, which is cheaper and wrong.
    """

    def __init__(self, student, teacher, alpha=0.5, temperature=4.0):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.alpha = alpha
        self.temperature = temperature
        self.student_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.distillation_loss_fn = keras.losses.KLDivergence()

    def call(self, x, training=False):
        return self.student(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
        teacher_pred = self.teacher(x, training=False)
        student_loss = self.student_loss_fn(y, y_pred)
        distillation_loss = self.distillation_loss_fn(
            keras.ops.softmax(teacher_pred / self.temperature, axis=1),
            keras.ops.softmax(y_pred / self.temperature, axis=1),
        ) * (self.temperature**2)
        return self.alpha * student_loss + (1 - self.alpha) * distillation_loss


def multiply_accumulates(model):
    """Multiply-accumulates of one example's forward pass through the conv and dense layers.

    prod(kernel shape) × prod(output's spatial shape) for every Conv2D, DepthwiseConv2D
    and Dense layer (nested models included); normalization, pooling and activations are
    not counted.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_accumulates(layer)
        elif isinstance(
            layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense
        ):
            total += int(np.prod(layer.kernel.shape)) * int(np.prod(layer.output.shape[1:-1]))
    return total


def cached_teacher_speedup(student_name, teacher_name, teacher_options, batches, settings):
    """Step time of the example's Distiller and of KDModel with an online teacher, each over
    KDModel's on cached probabilities, with the same student net and teacher."""
    teacher = nets.get(teacher_name, NUM_CLASSES, IMAGE_SHAPE, **teacher_options)
    student = nets.get(student_name, NUM_CLASSES, IMAGE_SHAPE)
    distiller = Distiller(nets.get(student_name, NUM_CLASSES, IMAGE_SHAPE), teacher)
    distiller.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=False)
    cached = objectives.KDModel(student, alpha=distiller.alpha, temperature=distiller.temperature)
    cached.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=False)
    online = objectives.KDModel(
        nets.get(student_name, NUM_CLASSES, IMAGE_SHAPE),
        alpha=distiller.alpha,
        temperature=distiller.temperature,
    )
    online.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=False)
    online.attach_teacher(objectives.OnlineTeacher(teacher, temperature=distiller.temperature))
    seconds = interleaved_step_seconds(
        {
            "distiller": warm_up(distiller, batches.with_labels()),
            "online": warm_up(online, batches.with_targets(("label",))),
            "cached": warm_up(cached, objective_dataset(cached, batches)),
        },
        settings.repetitions,
    )
    options = ",".join(f"{k}={v}" for k, v in teacher_options.items())
    return {
        "student": student_name,
        "teacher": f"{teacher_name}({options})" if options else teacher_name,
        "teacher_params_over_student": teacher.count_params() / student.count_params(),
        "teacher_macs_over_student": multiply_accumulates(teacher) / multiply_accumulates(student),
        "speedup": compare(seconds["distiller"], seconds["cached"]),
        "online_speedup": compare(seconds["online"], seconds["cached"]),
    }


def teacher_table(rows):
    """Markdown of the `cached_teacher_speedup` rows."""
    header = ["student", "teacher", "params ×", "MACs ×"]
    names = ("Distiller ms", "speedup", "online ms", "online speedup")
    header += [f"{name}, {clock}" for clock in CLOCKS for name in names]
    cells = []
    for row in rows:
        cells.append(
            [
                row["student"],
                row["teacher"],
                f"{row['teacher_params_over_student']:.2f}",
                f"{row['teacher_macs_over_student']:.2f}",
            ]
        )
        for clock in CLOCKS:
            for key in ("speedup", "online_speedup"):
                speedup = row[key][clock]
                cells[-1] += [f"{speedup['numerator_ms']:.1f}", ratio_cell(speedup)]
    return (
        "## Cached teacher: step of the keras-io Distiller, and of KDModel with an online "
        "teacher, / step of KDModel on cached probabilities\n\n"
        + reporting.markdown_rows(header, cells)
    )
