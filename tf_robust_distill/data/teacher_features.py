"""Teacher features: one bulk inference of a teacher's intermediate targets, cached on disk.

Feature-distillation students (FitNets, attention transfer) read the teacher's
intermediate representations, but never run the teacher in their training step:
like ``TeacherLabels``, the targets come from one pass over the dataset, cached with
the fingerprint of the teacher's weights. Two kinds:

- ``'features'``: the teacher's penultimate layer (named ``"features"`` in every net of
  the package), [N, D_t], the target key ``teacher_features``;
- ``'attention'``: the normalized attention maps (`losses.feature.attention_map`) of the chosen
  stages, concatenated, [N, Σ_j H_j·W_j], the target key ``teacher_attention``. The
  channel sum is taken before caching, so the cache stays small.

The stage maps are computed from the unaugmented examples; a student trained with
augmentation reads the targets of the unaugmented image, as it does the teacher's labels.
"""

import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from tf_robust_distill import checks, files
from tf_robust_distill.data.teacher_cache import cached_bulk_inference, check_cache, read_cache
from tf_robust_distill.losses.feature import attention_map
from tf_robust_distill.nets.layer_names import FEATURES_LAYER

DEFAULT_STAGES = ("stage1", "stage2", "stage3")
"""The stages attention transfer matches by default (the three groups of a CIFAR ResNet)."""

TARGET_KEYS = {"features": "teacher_features", "attention": "teacher_attention"}
"""Kind of teacher target -> the key a student reads it under in the targets dict."""

CACHE_ARRAYS = ("values", "fingerprint", "kind", "layers", "spatial_shapes", "data_fingerprint")
"""The arrays of a teacher-feature cache file."""


def layer_outputs(model, layer_names):
    """The symbolic outputs of `model`'s layers called `layer_names`, in order.

    Raises:
      ValueError: no names, or `model` has no layer of some name (naming the missing ones).
    """
    if not layer_names:
        raise ValueError("name at least one layer to read (e.g. the stages 'stage1', ...).")
    present = {layer.name for layer in model.layers}
    missing = [name for name in layer_names if name not in present]
    if missing:
        raise ValueError(
            f"model {model.name!r} has no layer named {', '.join(map(repr, missing))}. The nets "
            f"of the package name their penultimate layer {FEATURES_LAYER!r} and their stages "
            "'stage1', 'stage2', ...; pass a functional backbone (e.g. teacher.backbone)."
        )
    return [model.get_layer(name).output for name in layer_names]


def spatial_shapes(outputs, layer_names):
    """((H, W), ...) of 4-D [batch, H, W, C] outputs with a static spatial size.

    Raises:
      ValueError: an output (named by `layer_names`) is not a static 4-D feature map.
    """
    shapes = []
    for name, output in zip(layer_names, outputs, strict=True):
        if len(output.shape) != 4 or None in output.shape[1:3]:
            raise ValueError(
                f"layer {name!r} outputs shape {tuple(output.shape)}; attention transfer needs "
                "[batch, H, W, C] feature maps with a static H and W."
            )
        shapes.append((int(output.shape[1]), int(output.shape[2])))
    return tuple(shapes)


def _features(outputs):
    """The "features" layer's output [batch, D_t] in float32."""
    (features,) = outputs
    return tf.cast(features, tf.float32)


def _concatenated_attention_maps(outputs):
    """The stages' normalized attention maps, concatenated: [batch, Σ_j H_j·W_j]."""
    return tf.concat([attention_map(output) for output in outputs], axis=-1)


SUMMARIES = {"features": _features, "attention": _concatenated_attention_maps}
"""Kind of teacher target -> the function from the read layers' outputs to the targets."""


def _check_kind(kind):
    if kind not in TARGET_KEYS:
        raise ValueError(f"kind must be one of {', '.join(TARGET_KEYS)}; got {kind!r}.")


@dataclasses.dataclass(frozen=True)
class TeacherFeatures:
    """A teacher's intermediate targets on a dataset, in the dataset's order.

    Attributes:
      values: [N, D] float32: the features, or the concatenated normalized attention maps.
      fingerprint: ``teacher_cache.model_fingerprint`` of the teacher that produced them.
      kind: 'features' or 'attention'.
      layers: the teacher's layers read: ('features',) or the stages.
      spatial_shapes: ((H, W), ...) of the stages for 'attention'; () for 'features'.
      data_fingerprint: ``fingerprint.DataFingerprint`` of the dataset, in its order; ""
        when not known.
    """

    values: np.ndarray
    fingerprint: str
    kind: str
    layers: tuple
    spatial_shapes: tuple = ()
    data_fingerprint: str = ""

    def __post_init__(self):
        _check_kind(self.kind)
        values = np.asarray(self.values)
        if values.ndim != 2:
            raise ValueError(f"teacher {self.kind} must be [N, D], got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values).all(axis=1)))
            raise ValueError(f"teacher {self.kind} hold non-finite values in {bad} examples")
        shapes = tuple((int(h), int(w)) for h, w in self.spatial_shapes)
        width = sum(h * w for h, w in shapes)
        if self.kind == "attention" and values.shape[1] != width:
            raise ValueError(
                f"teacher attention maps have {values.shape[1]} values per example, but stages "
                f"of spatial shapes {shapes} need {width}"
            )
        object.__setattr__(self, "values", values.astype(np.float32, copy=False))
        object.__setattr__(self, "layers", tuple(str(name) for name in self.layers))
        object.__setattr__(self, "spatial_shapes", shapes)

    @property
    def num_examples(self):
        return self.values.shape[0]

    @property
    def target_key(self):
        """The key of the targets dict a student reads these values under."""
        return TARGET_KEYS[self.kind]

    @classmethod
    def from_model(
        cls,
        model,
        dataset,
        *,
        kind,
        num_examples,
        stages=None,
        cache_path=None,
        batch_size=256,
    ):
        """Run `model` over `dataset` once; reuse `cache_path` if it holds this teacher's targets.

        Args:
          model: the trained teacher's functional backbone.
          dataset: unbatched tf.data.Dataset of (x, ...) in a fixed order.
          kind: 'features' (the "features" layer) or 'attention' (the stages' maps).
          num_examples: the dataset's size, checked against the cache and the inference.
          stages: for 'attention', the stage layers (default ``DEFAULT_STAGES``).
          cache_path: a ``.npz`` file; read if present (and checked), else written.
          batch_size: inference batch size.

        Raises:
          ValueError: unknown kind, `stages` given for 'features', missing layers, a stage
            that is not a static feature map, a cache of another teacher, kind, layers or
            size, or a dataset that does not yield `num_examples` examples.
        """
        _check_kind(kind)
        if kind == "features" and stages is not None:
            raise ValueError("stages only apply to kind='attention'; got kind='features'.")
        if not checks.is_integer(num_examples) or num_examples < 1:
            raise ValueError(f"num_examples must be an integer >= 1, got {num_examples!r}.")
        if kind == "features":
            layers = (FEATURES_LAYER,)
        else:
            layers = DEFAULT_STAGES if stages is None else tuple(stages)
        outputs = layer_outputs(model, layers)
        if kind == "features" and len(outputs[0].shape) != 2:
            raise ValueError(
                f"layer {FEATURES_LAYER!r} outputs shape {tuple(outputs[0].shape)}; teacher "
                "features must be vectors [batch, D] (the pooled penultimate layer)."
            )
        shapes = spatial_shapes(outputs, layers) if kind == "attention" else ()
        extractor, summarize = keras.Model(model.input, outputs), SUMMARIES[kind]
        return cached_bulk_inference(
            model,
            dataset,
            step=lambda x: summarize(tf.nest.flatten(extractor(x, training=False))),
            num_examples=num_examples,
            cache_path=cache_path,
            batch_size=batch_size,
            load=functools.partial(cls.load, kind=kind, layers=layers),
            build=lambda values, fingerprint, data_fingerprint: cls(
                values, fingerprint, kind, layers, shapes, data_fingerprint
            ),
        )

    def save(self, path):
        """Write to a ``.npz`` file atomically."""
        files.write_npz(
            path,
            values=self.values,
            fingerprint=np.array(self.fingerprint),
            kind=np.array(self.kind),
            layers=np.array(self.layers, dtype=str),
            spatial_shapes=np.array(self.spatial_shapes, dtype=np.int64).reshape(-1, 2),
            data_fingerprint=np.array(self.data_fingerprint),
        )

    @classmethod
    def load(
        cls,
        path,
        *,
        fingerprint=None,
        num_examples=None,
        kind=None,
        layers=None,
        data_fingerprint=None,
    ):
        """Read a cache, checking it against what the caller expects.

        Raises:
          ValueError: the cache is no readable npz archive of `CACHE_ARRAYS`, or holds
            another teacher's targets, another kind, other layers, another number of
            examples, targets of other data or of another order, or non-finite values.
        """
        where = f"teacher-feature cache {path}"
        stored = read_cache(where, path, CACHE_ARRAYS)
        try:
            features = cls(
                stored["values"],
                str(stored["fingerprint"]),
                str(stored["kind"]),
                tuple(stored["layers"]),
                tuple(map(tuple, stored["spatial_shapes"])),
                str(stored["data_fingerprint"]),
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error
        check_cache(where, features, fingerprint)
        if (kind is not None and features.kind != kind) or (
            layers is not None and features.layers != tuple(layers)
        ):
            raise ValueError(
                f"{where} holds the teacher's {features.kind} of layers {list(features.layers)}, "
                f"not its {kind or features.kind} of layers {list(layers or features.layers)}; "
                "use another cache path."
            )
        check_cache(where, features, num_examples=num_examples, data_fingerprint=data_fingerprint)
        return features
