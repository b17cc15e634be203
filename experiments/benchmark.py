r"""Speed and memory of the objectives against plain Keras (issue 7).

  python -m experiments.benchmark --quick --out=runs/benchmark
  python -m experiments.benchmark --out=runs/benchmark

Writes OUT/benchmarks.json and OUT/benchmarks.md (the machine, TF and Keras versions
and the command first) with:

- ``step_time_ratio``: median train-step time of each objective divided by that of
  ``keras.Model.fit`` with sparse categorical cross-entropy on the same net, batch and
  batches (target: at most 1.05). The robust objectives' multiplier update is not in
  their step; ``multiplier_update`` gives its share of training time instead.
- ``jit_compile_ratio``: step time with ``jit_compile=True`` over ``False``, per objective.
- ``cached_teacher_speedup``: step time of the Keras knowledge-distillation example's
  ``Distiller`` (the teacher runs in every step) over ``KDModel`` (cached teacher
  probabilities), for a teacher equal to the student and for one about 4x bigger.
- ``estimator_scaling``: seconds of ``estimators.debiasing_weights`` and of
  ``TeacherAccuracyEstimator.alpha`` + ``.k`` against the number of unlabeled examples,
  and the growth exponent (slope of log seconds against log N).
- ``soteacher_buffer``: bytes of SoTeacher's prediction buffer against N.

How steps are timed: the machine may be busy, so absolute times drift; ratios are
measured in one process with the compared models interleaved. Each model is warmed up
by one epoch (tracing and compilation excluded), then every repetition runs one
``fit`` epoch of the same in-memory batches per model, the order rotating between
repetitions. A step is the time between two consecutive ``on_train_batch_begin``
calls, on two clocks: wall time and the CPU time of the process (all threads), which
a busy machine disturbs much less. A repetition reports its median step, a
comparison the median over repetitions of the paired ratios and their quartiles.
"""

import dataclasses
import os
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from tf_robust_distill import data, estimators, nets, objectives, reporting

_QUICK = flags.DEFINE_bool(
    "quick",
    False,
    "Fewer steps and repetitions and estimator sizes up to 100k: minutes on 2 cores, "
    "noisier ratios.",
)
_OUT = flags.DEFINE_string("out", None, "Directory for benchmarks.json and benchmarks.md.")
flags.mark_flag_as_required("out")

TARGET_STEP_RATIO = 1.05
BATCH_SIZE = 128
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
TEACHER_FEATURE_DIM = 64
VALIDATION_BATCH_SIZE = 256
TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE = 10  # CIFAR: 50k training, 5k validation examples
MULTIPLIER_UPDATE_EVERY_N_STEPS = 100
MULTIPLIER_UPDATE_NET = "cnn_small"
ESTIMATOR_CLASSES = 100
ESTIMATOR_VALIDATION_EXAMPLES = 10_000
BUFFER_CLASSES = 1000
BUFFER_SIZES = (10_000, 100_000, 1_281_167)
BUILT_BUFFER_SIZE = 10_000


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much to measure.

    Attributes:
      steps: net -> optimizer steps per timed repetition (one fit epoch over fixed
        batches); every objective is compared with plain Keras on each of these nets.
      repetitions: interleaved repetitions per comparison.
      jit_nets: nets of the jit_compile on/off ratios.
      estimator_sizes: numbers of unlabeled examples of the estimator timings.
      estimator_repetitions: timings per estimator size (the median is kept).
      validation_examples: |V| of the multiplier update.
    """

    steps: dict
    repetitions: int
    jit_nets: tuple
    estimator_sizes: tuple
    estimator_repetitions: int
    validation_examples: int


QUICK = Settings(
    steps={"cnn_small": 8, "mlp": 40},
    repetitions=4,
    jit_nets=("mlp",),  # XLA compiles a cnn_small step in ~5 CPU seconds per objective
    estimator_sizes=(10_000, 31_623, 100_000),
    estimator_repetitions=3,
    validation_examples=2_560,
)
FULL = Settings(
    steps={"cnn_small": 30, "mlp": 150},
    repetitions=9,
    jit_nets=("cnn_small", "mlp"),
    estimator_sizes=(10_000, 100_000, 1_000_000),
    estimator_repetitions=3,
    validation_examples=5_000,
)

# Objective name -> model around a backbone, given the benchmark's FixedBatches. The robust
# family is timed as students (distill=True, cached teacher probabilities); SoTeacher is a
# teacher objective (labels), with the paper's λ_LR = 1e-5 (CIFAR-100) and λ_CR^max = 1.
OBJECTIVES = {
    "std": lambda net, batches: objectives.StandardModel(net, distill=True),
    "kd": lambda net, batches: objectives.KDModel(net, alpha=0.5, temperature=4.0),
    "bal": lambda net, batches: objectives.BalancedModel(
        net, distill=True, class_priors=batches.class_priors()
    ),
    "rob": lambda net, batches: objectives.RobustModel(
        net, distill=True, class_priors=batches.class_priors()
    ),
    "tdf": lambda net, batches: objectives.RobustModel(
        net, distill=True, class_priors=batches.class_priors(), alpha=0.5
    ),
    "group_dro": lambda net, batches: objectives.GroupDROModel(net, distill=True),
    "ada_margin": lambda net, batches: objectives.AdaMarginModel(net),
    "ada_alpha": lambda net, batches: objectives.AdaAlphaModel(net),
    "weighted": lambda net, batches: objectives.WeightedModel(
        net, num_train_examples=batches.num_examples
    ),
    "slam": lambda net, batches: objectives.SLaMModel(net),
    "soteacher": lambda net, batches: objectives.SoTeacherModel(
        net,
        lipschitz_weight=1e-5,
        consistency_weight_max=1.0,
        num_train_examples=batches.num_examples,
    ),
    "vid": lambda net, batches: objectives.VIDModel(net, teacher_feature_dim=TEACHER_FEATURE_DIM),
    "fitnets": lambda net, batches: objectives.FitNetsModel(
        net, teacher_feature_dim=TEACHER_FEATURE_DIM, beta=50.0 / TEACHER_FEATURE_DIM
    ),
}

# (student, teacher, teacher's net options) of the cached-teacher comparison.
TEACHER_PAIRS = (
    ("cnn_small", "cnn_small", {}),
    ("mlp", "mlp", {}),
    ("mlp", "mlp", {"hidden_sizes": (768, 768)}),
)


# ---------------------------------------------------------------------------- data


def softmax(logits):
    """Row-wise softmax of a float array, in the array's dtype."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def random_per_example_targets(labels, num_classes, rng):
    """Every per-example target an objective may read (DESIGN conventions), at random."""
    num_examples = len(labels)
    logits = rng.normal(size=(num_examples, num_classes)) + 3.0 * np.eye(num_classes)[labels]
    teacher_probs = softmax(logits).astype(np.float32)
    top3 = np.argsort(-teacher_probs, axis=1)[:, :3]
    topk = np.zeros_like(teacher_probs)
    np.put_along_axis(topk, top3, 1.0, axis=1)
    return {
        "teacher_probs": teacher_probs,
        "weight": rng.uniform(0.5, 1.0, num_examples).astype(np.float32),
        "alpha": rng.uniform(0.5, 1.0, num_examples).astype(np.float32),
        "topk": topk,
        "labeled": (rng.uniform(size=num_examples) < 0.2).astype(np.float32),
        "teacher_features": rng.normal(size=(num_examples, TEACHER_FEATURE_DIM)).astype(np.float32),
    }


class FixedBatches:
    """`steps` batches of random images and targets from `data.training_pipeline`, in memory.

    Every model reads the same batches in the same order; a model's dataset slices them
    from stacked tensors, so the input pipeline costs next to nothing in a timed step.
    """

    def __init__(self, steps, batch_size=BATCH_SIZE, seed=0):
        rng = np.random.default_rng(seed)
        self.num_examples = steps * batch_size
        x = rng.uniform(size=(self.num_examples, *IMAGE_SHAPE)).astype(np.float32)
        labels = rng.integers(0, NUM_CLASSES, self.num_examples).astype(np.int32)
        pipeline = data.training_pipeline(
            tf.data.Dataset.from_tensor_slices((x, labels)),
            batch_size,
            seed=seed,
            per_example=random_per_example_targets(labels, NUM_CLASSES, rng),
            drop_remainder=True,
        )
        batches = list(pipeline)
        self.x = tf.stack([batch_x for batch_x, _ in batches])
        self.targets = {
            key: tf.stack([targets[key] for _, targets in batches]) for key in batches[0][1]
        }

    def class_priors(self):
        """The teacher's marginal over the batches: a student's π̂."""
        probs = tf.reshape(self.targets["teacher_probs"], (-1, NUM_CLASSES)).numpy()
        return objectives.class_priors_from_probs(probs)

    def with_targets(self, keys):
        """Dataset of (x, {key: target}) for `keys`: what a DistillationModel reads."""
        return tf.data.Dataset.from_tensor_slices((self.x, {k: self.targets[k] for k in keys}))

    def with_labels(self):
        """Dataset of (x, label): what plain Keras reads."""
        return tf.data.Dataset.from_tensor_slices((self.x, self.targets["label"]))


# ---------------------------------------------------------------------------- models


def optimizer():
    return keras.optimizers.SGD(0.01, momentum=0.9)


def keras_baseline(net_name, jit_compile):
    """The net itself compiled with sparse categorical cross-entropy: plain Keras."""
    model = nets.get(net_name, NUM_CLASSES, IMAGE_SHAPE)
    model.compile(
        optimizer=optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def objective_model(name, net_name, batches, jit_compile):
    """The objective `name` around a fresh `net_name`, compiled like the baseline."""
    model = OBJECTIVES[name](nets.get(net_name, NUM_CLASSES, IMAGE_SHAPE), batches)
    model.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=jit_compile)
    return model


def objective_dataset(model, batches):
    return batches.with_targets(("label", *model.required_targets))


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


# ---------------------------------------------------------------------------- step timing

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""Wall time, and the CPU time of the whole process (all its threads): on a loaded machine
the wall time of a step swings with the scheduler, its CPU time much less."""


def read_clocks():
    return {clock: read() for clock, read in CLOCKS.items()}


class StepTimer(keras.callbacks.Callback):
    """Time between consecutive ``on_train_batch_begin`` calls: one step each, as fit runs it.

    Only the batch begin is hooked: a callback with ``on_train_batch_end`` turns off Keras's
    asynchronous batch-end dispatch, which would add a host sync on the logs to every step.
    Eager TensorFlow returns from the train function once the step has run, so an interval
    holds the whole step (reading the batch, forward, backward, update, metrics).
    """

    def on_train_begin(self, logs=None):
        self.starts = []

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(read_clocks())

    def step_seconds(self):
        """{clock: seconds of each step but the last}."""
        return {clock: np.diff([start[clock] for start in self.starts]) for clock in CLOCKS}


def median_step_seconds(model, dataset):
    """{clock: median step seconds} of one fit epoch over `dataset`."""
    timer = StepTimer()
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    return {clock: float(np.median(steps)) for clock, steps in timer.step_seconds().items()}


def warm_up(model, dataset):
    """One epoch that traces (and compiles) the train function; not timed."""
    model.fit(dataset, epochs=1, verbose=0)
    return model, dataset


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def interleaved_step_seconds(contenders, repetitions):
    """{name: {clock: [median step seconds of each repetition]}} for {name: (model, dataset)}.

    Every repetition times each contender once, the order rotated by one each time, so a
    load change hits all contenders alike.
    """
    names = list(contenders)
    seconds = {name: {clock: [] for clock in CLOCKS} for name in names}
    for repetition in range(repetitions):
        for name in rotated(names, repetition):
            for clock, value in median_step_seconds(*contenders[name]).items():
                seconds[name][clock].append(value)
    return seconds


def median_ratio(numerators, denominators):
    """Median over repetitions of numerator / denominator, paired repetition by repetition."""
    numerators, denominators = np.asarray(numerators), np.asarray(denominators)
    if numerators.shape != denominators.shape or numerators.size == 0:
        raise ValueError(
            f"need paired, non-empty timings; got shapes {numerators.shape} and "
            f"{denominators.shape}."
        )
    return float(np.median(numerators / denominators))


def compare(numerator, denominator):
    """Per clock: the median paired ratio, its quartiles and the median times (ms)."""
    summary = {}
    for clock in CLOCKS:
        ratios = np.asarray(numerator[clock]) / np.asarray(denominator[clock])
        summary[clock] = {
            "ratio": median_ratio(numerator[clock], denominator[clock]),
            "quartiles": np.quantile(ratios, [0.25, 0.75]).tolist(),
            "numerator_ms": 1e3 * float(np.median(numerator[clock])),
            "denominator_ms": 1e3 * float(np.median(denominator[clock])),
        }
    return summary


def warmed_objective(name, net_name, batches, jit_compile=False):
    model = objective_model(name, net_name, batches, jit_compile)
    return warm_up(model, objective_dataset(model, batches))


def step_time_ratios(net_name, batches, settings, jit):
    """Per objective on `net_name`: step ratio to plain Keras and, with `jit`, jit on/off ratio."""
    baseline = warm_up(keras_baseline(net_name, jit_compile=False), batches.with_labels())
    step_ratio, jit_ratio = {}, {}
    if jit:
        baseline_jit = warm_up(keras_baseline(net_name, jit_compile=True), batches.with_labels())
        seconds = interleaved_step_seconds(
            {"keras": baseline, "keras_jit": baseline_jit}, settings.repetitions
        )
        jit_ratio["keras"] = compare(seconds["keras_jit"], seconds["keras"])
    for name in OBJECTIVES:
        logging.info("step time of %s on %s", name, net_name)
        contenders = {"keras": baseline, "objective": warmed_objective(name, net_name, batches)}
        if jit:
            contenders["objective_jit"] = warmed_objective(
                name, net_name, batches, jit_compile=True
            )
        seconds = interleaved_step_seconds(contenders, settings.repetitions)
        step_ratio[name] = compare(seconds["objective"], seconds["keras"])
        if jit:
            jit_ratio[name] = compare(seconds["objective_jit"], seconds["objective"])
    return step_ratio, jit_ratio


def timed_seconds(function):
    """{clock: seconds} of one call of `function`."""
    start = read_clocks()
    function()
    end = read_clocks()
    return {clock: end[clock] - start[clock] for clock in CLOCKS}


def validation_set(size):
    """Batched random images with every class present: MultiplierUpdate's validation data."""
    images = np.random.default_rng(1).uniform(size=(size, *IMAGE_SHAPE)).astype(np.float32)
    labels = np.arange(size, dtype=np.int32) % NUM_CLASSES
    dataset = tf.data.Dataset.from_tensor_slices((images, {"label": labels}))
    return dataset.batch(VALIDATION_BATCH_SIZE)


def update_share(update_seconds, step_seconds, steps_between_updates):
    """Share of training time spent in the update: u / (u + steps × step), paired, median."""
    pairs = zip(update_seconds, step_seconds, strict=True)
    shares = [u / (u + steps_between_updates * s) for u, s in pairs]
    return float(np.median(shares))


def multiplier_update_share(net_name, batches, settings):
    """Time of one `MultiplierUpdate.update` over |V| examples against training time.

    The update runs between steps, outside the step ratio. Its share is given for an update
    every epoch of a training set 10x the validation set (CIFAR's 50k / 5k), the epoch
    time being the number of steps times the step, and for an update every 100 steps.
    """
    model, dataset = warmed_objective("rob", net_name, batches)
    update = objectives.MultiplierUpdate(validation_set(settings.validation_examples))
    update.set_model(model)
    update.on_train_begin()
    update.update()  # traces the validation pass
    update_seconds = {clock: [] for clock in CLOCKS}
    step_seconds = {clock: [] for clock in CLOCKS}
    for _ in range(settings.repetitions):
        for clock, value in timed_seconds(update.update).items():
            update_seconds[clock].append(value)
        for clock, value in median_step_seconds(model, dataset).items():
            step_seconds[clock].append(value)
    train_examples = TRAIN_EXAMPLES_PER_VALIDATION_EXAMPLE * settings.validation_examples
    return {
        "net": net_name,
        "validation_examples": settings.validation_examples,
        "epoch_train_examples": train_examples,
        **{
            clock: {
                "update_seconds": float(np.median(update_seconds[clock])),
                "step_seconds": float(np.median(step_seconds[clock])),
                "share_of_epoch": update_share(
                    update_seconds[clock], step_seconds[clock], train_examples / BATCH_SIZE
                ),
                "share_every_100_steps": update_share(
                    update_seconds[clock], step_seconds[clock], MULTIPLIER_UPDATE_EVERY_N_STEPS
                ),
            }
            for clock in CLOCKS
        },
    }


def cached_teacher_speedup(student_name, teacher_name, teacher_options, batches, settings):
    """Step time of the example's Distiller over KDModel's, with the same student net."""
    teacher = nets.get(teacher_name, NUM_CLASSES, IMAGE_SHAPE, **teacher_options)
    student = nets.get(student_name, NUM_CLASSES, IMAGE_SHAPE)
    distiller = Distiller(nets.get(student_name, NUM_CLASSES, IMAGE_SHAPE), teacher)
    distiller.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=False)
    cached = objectives.KDModel(student, alpha=distiller.alpha, temperature=distiller.temperature)
    cached.compile(optimizer=optimizer(), metrics=["accuracy"], jit_compile=False)
    seconds = interleaved_step_seconds(
        {
            "distiller": warm_up(distiller, batches.with_labels()),
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
    }


# ---------------------------------------------------------------------------- estimators


def growth_exponent(sizes, seconds):
    """Slope of the least-squares line of log seconds against log size: t ∝ N^slope."""
    slope, _ = np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float)), 1)
    return float(slope)


def synthetic_predictions(num_examples, labels, rng):
    """Teacher and student probabilities [N, 100] float32, the teacher mostly right."""
    teacher_logits = rng.normal(size=(num_examples, ESTIMATOR_CLASSES)).astype(np.float32)
    teacher_logits[np.arange(num_examples), labels] += 2.5
    student_logits = teacher_logits + rng.normal(size=teacher_logits.shape).astype(np.float32)
    return softmax(teacher_logits), softmax(student_logits)


def median_seconds(function, repetitions):
    """{clock: median seconds} of `repetitions` calls of `function`."""
    timings = [timed_seconds(function) for _ in range(repetitions)]
    return {clock: float(np.median([t[clock] for t in timings])) for clock in CLOCKS}


def growth(sizes, timings):
    """{clock: {seconds, growth_exponent}} from one {clock: seconds} per size."""
    result = {}
    for clock in CLOCKS:
        seconds = [timing[clock] for timing in timings]
        result[clock] = {"seconds": seconds, "growth_exponent": growth_exponent(sizes, seconds)}
    return result


def estimator_scaling(settings):
    """Seconds of the k-NN debiasing weights and of SLaM's α(x), k(x) against N."""
    rng = np.random.default_rng(2)
    labels_val = rng.integers(0, ESTIMATOR_CLASSES, ESTIMATOR_VALIDATION_EXAMPLES)
    teacher_val, student_val = synthetic_predictions(ESTIMATOR_VALIDATION_EXAMPLES, labels_val, rng)
    accuracy = estimators.TeacherAccuracyEstimator(lower_bound=0.5, threshold=0.9)
    fit_seconds = median_seconds(
        lambda: accuracy.fit(teacher_val, labels_val), settings.estimator_repetitions
    )
    weights_seconds, alpha_k_seconds = [], []
    for size in settings.estimator_sizes:
        logging.info("estimators on %d unlabeled examples", size)
        labels = rng.integers(0, ESTIMATOR_CLASSES, size)
        teacher, student = synthetic_predictions(size, labels, rng)
        weights_seconds.append(
            median_seconds(
                lambda t=teacher, s=student: estimators.debiasing_weights(
                    teacher_val, student_val, labels_val, t, s
                ),
                settings.estimator_repetitions,
            )
        )
        alpha_k_seconds.append(
            median_seconds(
                lambda t=teacher: (accuracy.alpha(t), accuracy.k(t)),
                settings.estimator_repetitions,
            )
        )
    sizes = list(settings.estimator_sizes)
    return {
        "num_classes": ESTIMATOR_CLASSES,
        "validation_examples": ESTIMATOR_VALIDATION_EXAMPLES,
        "unlabeled_examples": sizes,
        "teacher_accuracy_fit_seconds": fit_seconds,
        "debiasing_weights": growth(sizes, weights_seconds),
        "teacher_accuracy_alpha_and_k": growth(sizes, alpha_k_seconds),
    }


# ---------------------------------------------------------------------------- memory


def soteacher_buffer_bytes(num_examples, num_classes, buffer_dtype):
    """Bytes of prediction_mean [N, C] (`buffer_dtype`) and prediction_count [N] (int32)."""
    return num_examples * (num_classes * np.dtype(buffer_dtype).itemsize + 4)


def built_buffer_bytes(model):
    """Bytes of a built SoTeacherModel's prediction_mean and prediction_count variables."""
    variables = (model.prediction_mean, model.prediction_count)
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


def soteacher_model(num_examples, num_classes, buffer_dtype):
    """A SoTeacherModel around a one-layer net: only its buffer matters here."""
    inputs = keras.Input((4,))
    backbone = keras.Model(inputs, keras.layers.Dense(num_classes)(inputs))
    return objectives.SoTeacherModel(
        backbone,
        lipschitz_weight=0.0,
        consistency_weight_max=1.0,
        num_train_examples=num_examples,
        buffer_dtype=buffer_dtype,
    )


def soteacher_buffer():
    """Buffer bytes for N in BUFFER_SIZES, C = 1000, float32 and float16.

    The formula is checked against the variables of a built model at N = 10,000.
    """
    rows = []
    for buffer_dtype in ("float32", "float16"):
        model = soteacher_model(BUILT_BUFFER_SIZE, BUFFER_CLASSES, buffer_dtype)
        built = built_buffer_bytes(model)
        expected = soteacher_buffer_bytes(BUILT_BUFFER_SIZE, BUFFER_CLASSES, buffer_dtype)
        if built != expected:
            raise AssertionError(f"buffer formula {expected} B != built variables {built} B")
        for size in BUFFER_SIZES:
            rows.append(
                {
                    "num_examples": size,
                    "num_classes": BUFFER_CLASSES,
                    "buffer_dtype": buffer_dtype,
                    "bytes": soteacher_buffer_bytes(size, BUFFER_CLASSES, buffer_dtype),
                    "built_bytes": built if size == BUILT_BUFFER_SIZE else None,
                }
            )
    return rows


# ---------------------------------------------------------------------------- report


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def markdown_report(results):
    """The results as markdown tables, machine and command first."""
    sections = [
        "# Benchmarks\n",
        reporting.markdown_rows(
            ["", ""],
            [
                *results["machine"].items(),
                ("command", f"`{results['command']}`"),
                ("wall seconds", f"{results['wall_seconds']:.0f}"),
            ],
        ),
        step_table(results),
        multiplier_table(results["multiplier_update"]),
        teacher_table(results["cached_teacher_speedup"]),
        estimator_table(results["estimator_scaling"]),
        buffer_table(results["soteacher_buffer"]),
    ]
    return "\n".join(sections)


def ratio_cell(summary, target=None):
    """'median [first quartile, third quartile]', starred when above `target`."""
    low, high = summary["quartiles"]
    mark = " *" if target is not None and summary["ratio"] > target else ""
    return f"{summary['ratio']:.3f} [{low:.2f}, {high:.2f}]{mark}"


def step_table(results):
    step, jit = results["step_time_ratio"], results["jit_compile_ratio"]
    header = ["objective"]
    header += [f"step / keras, {net}, {clock}" for net in step for clock in CLOCKS]
    header += [f"jit on / off, {net}, {clock}" for net in jit for clock in CLOCKS]
    rows = []
    for name in ["keras", *OBJECTIVES]:
        cells = [name]
        for net in step:
            for clock in CLOCKS:
                ratio = step[net].get(name)
                cells.append(ratio_cell(ratio[clock], TARGET_STEP_RATIO) if ratio else "1")
        cells += [ratio_cell(jit[net][name][clock]) for net in jit for clock in CLOCKS]
        rows.append(cells)
    keras_ms = "; ".join(
        f"{net}: "
        + ", ".join(
            f"{clock} {step[net]['std'][clock]['denominator_ms']:.1f} ms" for clock in CLOCKS
        )
        for net in step
    )
    return (
        f"## Train-step time ratios (target ≤ {TARGET_STEP_RATIO}; * misses it)\n\n"
        f"Median over repetitions of paired ratios [quartiles]; batch {BATCH_SIZE}, "
        f"{NUM_CLASSES} classes, {IMAGE_SHAPE} random inputs, jit off unless stated. "
        f"wall: elapsed time; cpu: CPU time of the process (steadier under load). "
        f"Plain Keras step: {keras_ms}.\n\n" + reporting.markdown_rows(header, rows)
    )


def multiplier_table(share):
    every = MULTIPLIER_UPDATE_EVERY_N_STEPS
    rows = [
        [
            clock,
            f"{share[clock]['update_seconds']:.3f}",
            f"{1e3 * share[clock]['step_seconds']:.1f}",
            f"{share[clock]['share_of_epoch']:.3f}",
            f"{share[clock]['share_every_100_steps']:.3f}",
        ]
        for clock in CLOCKS
    ]
    return (
        f"## Robust multiplier update (outside the step): {share['net']}, "
        f"|V| = {share['validation_examples']:,}\n\n"
        + reporting.markdown_rows(
            [
                "clock",
                "update s",
                "step ms",
                f"share, every epoch of {share['epoch_train_examples']:,} examples",
                f"share, every {every} steps",
            ],
            rows,
        )
    )


def teacher_table(rows):
    header = ["student", "teacher", "params ×", "MACs ×"]
    header += [f"{name}, {clock}" for clock in CLOCKS for name in ("Distiller ms", "speedup")]
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
            speedup = row["speedup"][clock]
            cells[-1] += [f"{speedup['numerator_ms']:.1f}", ratio_cell(speedup)]
    return (
        "## Cached teacher: step of the keras-io Distiller / step of KDModel\n\n"
        + reporting.markdown_rows(header, cells)
    )


def estimator_table(scaling):
    timed = {
        "debiasing_weights": scaling["debiasing_weights"],
        "TeacherAccuracyEstimator alpha + k": scaling["teacher_accuracy_alpha_and_k"],
    }
    header = ["unlabeled N", *(f"{name}, {clock} s" for name in timed for clock in CLOCKS)]
    rows = [
        [
            f"{size:,}",
            *(f"{t[clock]['seconds'][i]:.2f}" for t in timed.values() for clock in CLOCKS),
        ]
        for i, size in enumerate(scaling["unlabeled_examples"])
    ]
    rows.append(
        [
            "growth exponent",
            *(f"{t[clock]['growth_exponent']:.2f}" for t in timed.values() for clock in CLOCKS),
        ]
    )
    fit = scaling["teacher_accuracy_fit_seconds"]
    return (
        f"## Estimators ({scaling['num_classes']} classes, |V| = "
        f"{scaling['validation_examples']:,}; TeacherAccuracyEstimator.fit on V: "
        + ", ".join(f"{clock} {fit[clock]:.2f} s" for clock in CLOCKS)
        + ")\n\n"
        + reporting.markdown_rows(header, rows)
    )


def buffer_table(rows):
    return "## SoTeacher prediction buffer (prediction_mean + prediction_count)\n\n" + (
        reporting.markdown_rows(
            ["N", "C", "buffer dtype", "MB", "built variables MB"],
            [
                [
                    f"{r['num_examples']:,}",
                    r["num_classes"],
                    r["buffer_dtype"],
                    f"{r['bytes'] / 1e6:,.1f}",
                    "" if r["built_bytes"] is None else f"{r['built_bytes'] / 1e6:,.1f}",
                ]
                for r in rows
            ],
        )
    )


def write_text(text, path):
    """Write `text` atomically (temporary file renamed into place)."""
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        handle.write(text)
    os.replace(partial, path)


def run(settings):
    """Every measurement of the module docstring, as one JSON-able dict."""
    start = time.perf_counter()
    results = {"machine": machine(), "settings": dataclasses.asdict(settings)}
    batches = {net: FixedBatches(steps) for net, steps in settings.steps.items()}
    results["step_time_ratio"], results["jit_compile_ratio"] = {}, {}
    for net_name in settings.steps:
        jit = net_name in settings.jit_nets
        step, jit_ratio = step_time_ratios(net_name, batches[net_name], settings, jit)
        results["step_time_ratio"][net_name] = step
        if jit:
            results["jit_compile_ratio"][net_name] = jit_ratio
    logging.info("multiplier update")
    results["multiplier_update"] = multiplier_update_share(
        MULTIPLIER_UPDATE_NET, batches[MULTIPLIER_UPDATE_NET], settings
    )
    logging.info("cached teacher")
    results["cached_teacher_speedup"] = [
        cached_teacher_speedup(student, teacher, options, batches[student], settings)
        for student, teacher, options in TEACHER_PAIRS
    ]
    logging.info("estimators")
    results["estimator_scaling"] = estimator_scaling(settings)
    results["soteacher_buffer"] = soteacher_buffer()
    results["wall_seconds"] = time.perf_counter() - start
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    out = _OUT.value
    os.makedirs(out, exist_ok=True)
    results = run(QUICK if _QUICK.value else FULL)
    results["command"] = " ".join(["python -m experiments.benchmark", *sys.argv[1:]])
    text = markdown_report(results)
    reporting.write_json(results, os.path.join(out, "benchmarks.json"))
    write_text(text, os.path.join(out, "benchmarks.md"))
    print(text)


if __name__ == "__main__":
    app.run(main)
