"""Batched input pipelines with a dict of per-example targets, for training and evaluation."""

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.data.augment import get_augmentation
from tf_robust_distill.data.in_memory import in_memory_elements
from tf_robust_distill.data.selection import num_examples
from tf_robust_distill.data.topk_rows import TopKRows, dense_rows

RESERVED_KEYS = ("label", "index")
# The per-example key of the teacher's probabilities (objectives.targets.TEACHER_PROBS).
TEACHER_PROBS = "teacher_probs"
SHUFFLE_GRAPH_SEED = 1  # any value but 0, which TensorFlow reads as "no seed"
LABEL_BATCH = 8192  # labels read per batch by the one pass that checks their range


def _check_int(name: str, value, minimum: int) -> None:
    if not checks.is_integer(value):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}.")


def _check_positive_int(name: str, value) -> None:
    _check_int(name, value, 1)


def _check_dataset(dataset) -> int:
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"dataset must be a tf.data.Dataset; got {type(dataset).__name__}.")
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(f"dataset elements must be (x, label) pairs; got {spec}.")
    return num_examples(dataset)


def _lookup_tables(per_example: Mapping | None, size: int) -> dict:
    """Per-example arrays as tensors (floating ones as float32), checked to have ``size`` rows.

    A `TopKRows` value (top-k teacher labels) becomes the tuple of its three arrays' tensors
    and its number of classes; `_with_targets` builds its dense rows per batch.
    """
    tables = {}
    for key, values in (per_example or {}).items():
        if key in RESERVED_KEYS:
            raise ValueError(
                f"per_example key {key!r} is reserved; the pipeline sets {RESERVED_KEYS}."
            )
        if isinstance(values, TopKRows):
            if len(values) != size:
                raise ValueError(
                    f"per_example[{key!r}] has {len(values)} rows but the dataset has {size} "
                    "examples."
                )
            arrays = (values.probs, values.classes, values.tail)
            tables[key] = (tuple(tf.constant(array) for array in arrays), values.num_classes)
            continue
        array = np.asarray(values)
        if array.ndim == 0 or len(array) != size:
            raise ValueError(
                f"per_example[{key!r}] has {array.shape[0] if array.ndim else 'no'} rows but the "
                f"dataset has {size} examples."
            )
        if key == TEACHER_PROBS:
            checks.as_probabilities(array, name=f"per_example[{key!r}]")
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
        tables[key] = tf.constant(array)
    return tables


def _gather(table, index):
    """The rows `index` of a table: a tensor, or the dense rows of a top-k table."""
    if isinstance(table, tuple):
        arrays, num_classes = table
        return dense_rows(*(tf.gather(array, index) for array in arrays), num_classes)
    return tf.gather(table, index)


def _check_labels(dataset, num_classes, labels=None) -> None:
    """Integer labels (a float label would be truncated); with `num_classes`, all of them in
    [0, num_classes), read in one pass unless given as the tensor `labels` (an out-of-range
    label is an all-zero one-hot row)."""
    dtype = dataset.element_spec[1].dtype
    if not dtype.is_integer:
        raise ValueError(
            f"labels must be integer class ids, the dataset's are {dtype.name}; cast whole-"
            "number labels with dataset.map(lambda x, y: (x, tf.cast(y, tf.int32)))."
        )
    if num_classes is None:
        return
    checks.check_num_classes(num_classes)
    if labels is not None:
        low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    else:
        batches = dataset.batch(LABEL_BATCH).map(lambda x, label: tf.cast(label, tf.int64))
        low, high = batches.reduce(
            (tf.constant(np.iinfo(np.int64).max), tf.constant(np.iinfo(np.int64).min)),
            lambda bounds, batch: (
                tf.minimum(bounds[0], tf.reduce_min(batch)),
                tf.maximum(bounds[1], tf.reduce_max(batch)),
            ),
        )
    if int(low) < 0 or int(high) >= num_classes:
        raise ValueError(
            f"labels must be in [0, num_classes) = [0, {num_classes}), the dataset's lie in "
            f"[{int(low)}, {int(high)}]."
        )


def _with_targets(batched, tables) -> tf.data.Dataset:
    """Batches of ``(index, (x, label))`` as ``(x, targets)``, gathering the tables by index."""

    def to_targets(index, example):
        x, label = example
        targets = {"label": tf.cast(label, tf.int32), "index": index}
        targets.update({key: _gather(table, index) for key, table in tables.items()})
        return x, targets

    # Under a multi-worker strategy each worker takes its share of every global batch
    # (sharding by data: the examples come from memory, not from files).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return (
        batched.map(to_targets, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )


def training_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    seed: int,
    per_example: Mapping[str, np.ndarray] | None = None,
    augmentation: str | None = None,
    shuffle_buffer: int = 10_000,
    drop_remainder: bool = False,
    epochs: int | None = None,
    initial_epoch: int = 0,
    num_classes: int | None = None,
) -> tf.data.Dataset:
    """Shuffled, optionally augmented batches of ``(x, targets)``, epoch after epoch.

    Two ways to train, both deterministic under ``seed``:

    - ``epochs=None`` (the default): the dataset holds one epoch, and every read of it is a
      new epoch, so ``model.fit(pipeline, epochs=E)`` (which reads it again each epoch)
      sees a new order and new augmentations each epoch. Read r draws its epoch key from
      ``seed`` with tf.data's per-iteration reseeding (as ``shuffle`` with
      ``reshuffle_each_iteration=True``): a pipeline built again with the same seed, under
      the same TensorFlow global seed (or none), reads the same sequence of epochs.
    - ``epochs`` given: the dataset holds epochs ``initial_epoch``, ..., ``epochs - 1`` in
      turn, each a function of (seed, e) alone, for runs that resume (below).

    ``targets`` is a dict: 'label' (int32), 'index' (int64, the example's position in
    ``dataset``) and, for each ``per_example`` array (e.g. 'teacher_probs' [N, C], 'weight' [N],
    'alpha' [N], 'topk' [N, C]), its rows gathered by 'index', so they stay aligned with the
    examples however they are shuffled. A per-example value may be `TopKRows` (top-k teacher
    labels, ``TopKTeacherLabels.targets``): the pipeline holds its O(N·k) arrays and builds
    the batch's dense [batch, C] rows from the gathered ones (`topk_rows.dense_rows`).

    An epoch with key e is shuffled with a seed drawn from (seed, e), and each example's
    augmentation uses the stateless seed (seed, e, index). With ``epochs`` given, e is the
    epoch's number, so its batches are a function of ``seed`` and e alone (not of
    TensorFlow's global seed): a run resumed at epoch e (``initial_epoch=e``) sees exactly
    the batches an uninterrupted run saw, however many iterators came before. Train it
    with ``model.fit(pipeline, epochs=epochs, initial_epoch=initial_epoch,
    steps_per_epoch=S)``, S the batches of one epoch (`optim.steps_per_epoch`): the dataset
    holds every epoch, so Keras must not restart it. A batch never spans two epochs.

    Examples of static shape taking at most ``in_memory.IN_MEMORY_BYTES`` are read into memory in
    one pass when the pipeline is built; each epoch then shuffles and batches their
    positions and gathers the examples of a batch at once. The batches are exactly those
    of streaming the examples through the same shuffle (tf.data's shuffle order depends on
    the seed, the buffer and the number of elements only), at a fraction of the
    per-example cost. Larger datasets (e.g. ImageNet) are streamed.

    Args:
      dataset: finite unbatched dataset of ``(x, label)`` with known cardinality N.
      batch_size: global batch size.
      seed: seed of the shuffle and of the augmentations' per-example stateless seeds.
      per_example: key -> array with N rows; floating arrays are cast to float32.
      augmentation: None or a name in ``augment.AUGMENTATIONS`` ('crop_flip', 'translate',
        'flip_translate'), applied to each image x [H, W, C] (static shape).
      shuffle_buffer: size of the shuffle buffer (N or more shuffles uniformly).
      drop_remainder: drop the last partial batch of every epoch (static batch shapes,
        e.g. for TPUs).
      epochs: None (one epoch, a new one at every read) or one past the last epoch
        (``fit``'s ``epochs``).
      initial_epoch: the first epoch (``fit``'s ``initial_epoch``), in [0, epochs]; only
        with ``epochs`` given.
      num_classes: C; if given, the labels are read once (one pass over the dataset, before
        the first batch) and must lie in [0, C), and ``teacher_probs`` must have C columns.

    The targets are checked once here, on the host, not in the train step: labels must
    have an integer dtype, and ``per_example['teacher_probs']`` rows must be probability
    distributions (finite, non-negative, summing to 1), not logits.

    Raises:
      ValueError: for an unknown augmentation, a per_example array without N rows (naming its
        key), a reserved key, a batch or buffer size below 1, epochs below 1, an
        initial_epoch outside [0, epochs] or without epochs, a dataset that is not a finite
        dataset of (x, label) pairs, labels or teacher probabilities as above, or a batch
        larger than the dataset with ``drop_remainder`` (no step in an epoch).
      TypeError: if ``dataset`` is not a tf.data.Dataset or a size or epoch is not an int.
    """
    size = _check_dataset(dataset)
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("shuffle_buffer", shuffle_buffer)
    _check_int("initial_epoch", initial_epoch, 0)
    if epochs is None:
        if initial_epoch:
            raise ValueError(
                f"initial_epoch={initial_epoch} needs epochs: a pipeline without epochs holds "
                "one epoch, a new one at every read."
            )
    else:
        _check_positive_int("epochs", epochs)
        if initial_epoch > epochs:
            raise ValueError(f"initial_epoch must be at most epochs={epochs}; got {initial_epoch}.")
    augment = None if augmentation is None else get_augmentation(augmentation)
    if augment is not None and not (
        dataset.element_spec[0].shape.rank == 3 and dataset.element_spec[0].shape.is_fully_defined()
    ):
        raise ValueError(
            f"augmentation {augmentation!r} needs [H, W, C] images of static shape; the dataset's "
            f"x has shape {dataset.element_spec[0].shape}."
        )
    tables = _lookup_tables(per_example, size)
    if num_classes is not None and TEACHER_PROBS in tables:
        table = tables[TEACHER_PROBS]
        rows = per_example[TEACHER_PROBS] if isinstance(table, tuple) else table
        checks.check_num_columns(rows, num_classes, "per_example['teacher_probs']")
    if drop_remainder and batch_size > size:
        raise ValueError(
            f"batch_size={batch_size} with drop_remainder=True leaves no batch of the {size} "
            "examples: an epoch would train nothing; use a smaller batch or drop_remainder=False."
        )
    examples = in_memory_elements(dataset, size)
    if examples is None:
        _check_labels(dataset, num_classes)
        indexed, fetch = dataset.enumerate(), None
    else:
        _check_labels(dataset, num_classes, examples[1])
        indexed = tf.data.Dataset.range(size)

        def fetch(index):
            return index, tuple(tf.gather(tensor, index) for tensor in examples)

    def one_epoch(epoch):
        # A shuffle draws from (graph-level seed, its seed). Fixing the graph-level seed of
        # this function's graph (not the global one) leaves (seed, epoch) as the only input.
        tf.random.set_seed(SHUFFLE_GRAPH_SEED)
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        shuffle_seed = tf.random.stateless_uniform(
            [], seed=epoch_seed, minval=None, maxval=None, dtype=tf.int64
        )
        shuffled = indexed.shuffle(
            shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=False
        )
        if augment is not None:

            def augment_example(index, example):
                x, label = example
                example_seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
                return index, (augment(x, example_seed), label)

            if fetch is not None:
                shuffled = shuffled.map(fetch)
            shuffled = shuffled.map(augment_example, num_parallel_calls=tf.data.AUTOTUNE)
            return shuffled.batch(batch_size, drop_remainder=drop_remainder)
        batched = shuffled.batch(batch_size, drop_remainder=drop_remainder)
        return batched if fetch is None else batched.map(fetch)

    per_epoch = int(indexed.batch(batch_size, drop_remainder=drop_remainder).cardinality())
    if epochs is None:
        epoch_keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        num_epochs = 1
    else:
        epoch_keys = tf.data.Dataset.range(initial_epoch, epochs)
        num_epochs = epochs - initial_epoch
    batched = epoch_keys.flat_map(one_epoch)
    batched = batched.apply(tf.data.experimental.assert_cardinality(num_epochs * per_epoch))
    return _with_targets(batched, tables)


def evaluation_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    per_example: Mapping[str, np.ndarray] | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of ``(x, targets)`` in dataset order, without shuffling or augmentation.

    ``targets`` as in ``training_pipeline``: 'label', 'index' and the ``per_example`` arrays.
    """
    size = _check_dataset(dataset)
    _check_positive_int("batch_size", batch_size)
    tables = _lookup_tables(per_example, size)
    return _with_targets(
        dataset.enumerate().batch(batch_size, drop_remainder=drop_remainder), tables
    )
