"""Feature-distillation students: Hinton's KD plus β times a term on intermediate features.

The SoTeacher paper (Dong et al.) shows that its teachers also help students that match
features (§5.2, "Other Knowledge Distillation Algorithms", Table 6). Following App. D.2, a
student minimizes

    loss = KD(α, T) + β · term,

KD being `KDModel`'s α·xent(y, f) + (1 − α)·T²·KL(p^t_T ‖ softmax(f/T)) (α = 0.5, T = 4),
and term FitNets' hint regression (`FitNetsModel`) or attention transfer
(`AttentionTransferModel`) between the student's own intermediate outputs, computed in
the same forward pass as its logits, and the teacher's, read from the targets: the
teacher never runs in the step (`data.TeacherFeatures` computes them once).

Table 5 lists β for RepDistiller's loss γ·xent + α'·T²·KL + β·term with γ = α' = 1,
which is 2·(KD(0.5, T) + (β/2)·term): its β carries over as β/2 (times the
normalization of each term, see the classes), the factor 2 acting like the learning
rate (weight decay aside). With a SoTeacher teacher the paper halves β (App. D.2:
FitNets 100 → 50, AT 1000 → 500).
"""

import math

import keras
import tensorflow as tf

from tf_robust_distill import checks
from tf_robust_distill.data.teacher_features import DEFAULT_STAGES, TARGET_KEYS, spatial_shapes
from tf_robust_distill.losses.feature import (
    attention_map,
    attention_transfer_loss,
    hint_regression_loss,
)
from tf_robust_distill.nets.layer_names import FEATURES_LAYER
from tf_robust_distill.objectives.base import PACKAGE
from tf_robust_distill.objectives.feature_term import FeatureTermModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.standard import KDModel


class FeatureKDModel(FeatureTermModel, KDModel):
    """KD(α, T) + β · term(student's layers, teacher's targets): the base of both students.

    A subclass passes the student layers it reads (`layer_names`) and defines the key of
    the teacher's targets (`target_key`), their width (`teacher_width`) and the
    per-example term (`distillation_term`), which `FeatureTermModel` weighs by β and
    adds to KD in one forward pass. Not serializable itself: use a subclass.

    Args:
      backbone: a functional Keras model returning logits, with the layers `layer_names`.
      layer_names: the backbone's layers whose outputs the term reads.
      beta: β >= 0, the weight of the term.
      alpha, temperature: KD's α in [0, 1] and T > 0 (SoTeacher: 0.5 and 4).
    """

    def __init__(self, backbone, layer_names, beta, alpha=0.5, temperature=4.0, **kwargs):
        super().__init__(backbone, layer_names, alpha=alpha, temperature=temperature, **kwargs)
        if not checks.is_real(beta) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta (the weight of the feature term) must be >= 0, got {beta!r}.")
        self.beta = float(beta)

    def distillation_term(self, student_outputs, teacher_targets):
        """The per-example term [batch] from the layers' outputs and the teacher's targets."""
        raise NotImplementedError(f"{type(self).__name__} must implement distillation_term")

    def feature_term(self, student_outputs, teacher_targets):
        """β · the distillation term."""
        return self.beta * self.distillation_term(student_outputs, teacher_targets)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@register("fitnets", roles=("student",), derived=("teacher_feature_dim", "temperature"))
@keras.saving.register_keras_serializable(package=PACKAGE)
class FitNetsModel(FeatureKDModel):
    """KD + β · ½‖r(s(x)) − t(x)‖² (Romero et al., FitNets, ICLR 2015, eq. (3)).

    s(x) is the student's ``"features"`` layer, t(x) the teacher's
    (``targets['teacher_features']``, from ``TeacherFeatures.from_model(kind='features')``)
    and r a trainable linear regressor from the student's width to the teacher's (a
    dense layer, i.e. a 1x1 convolution of the pooled features), trained by the term only.

    Table 5's β (100, SoTeacher 50) weighs RepDistiller's mean over the D_t elements of
    the squared error, on an intermediate feature map: ½‖·‖² = (D_t/2)·mean, so the same
    weight on these features is β_table / D_t here (β_table / 2 for the KD factor, times
    2 / D_t for the normalization).

    Args:
      backbone: a functional Keras model returning logits, with a layer named "features".
      teacher_feature_dim: D_t, the width of the teacher's features.
      beta: β >= 0.
      alpha, temperature: see `KDModel`.
    """

    target_key = TARGET_KEYS["features"]

    def __init__(self, backbone, teacher_feature_dim, beta, alpha=0.5, temperature=4.0, **kwargs):
        super().__init__(backbone, (FEATURES_LAYER,), beta, alpha, temperature, **kwargs)
        if not checks.is_integer(teacher_feature_dim) or teacher_feature_dim < 1:
            raise ValueError(
                f"teacher_feature_dim must be an integer >= 1, got {teacher_feature_dim!r}."
            )
        features_shape = backbone.get_layer(FEATURES_LAYER).output.shape
        if len(features_shape) != 2:
            raise ValueError(
                f"FitNetsModel regresses the student's pooled features [batch, D]; layer "
                f"{FEATURES_LAYER!r} of {backbone.name!r} outputs {tuple(features_shape)}."
            )
        self.regressor = keras.layers.Dense(
            int(teacher_feature_dim), dtype="float32", name="hint_regressor"
        )
        self.regressor.build(features_shape)

    @property
    def teacher_width(self):
        return self.regressor.units

    def distillation_term(self, student_outputs, teacher_targets):
        (features,) = student_outputs
        return hint_regression_loss(teacher_targets, self.regressor(features))

    def get_config(self):
        return {**super().get_config(), "teacher_feature_dim": self.regressor.units}


@register("at", roles=("student",), derived=("teacher_spatial_shapes", "temperature"))
@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionTransferModel(FeatureKDModel):
    """KD + β · Σ_j ‖q_S^j − q_T^j‖₂² / (H_j W_j) (Zagoruyko & Komodakis, ICLR 2017).

    q^j = Q^j / ‖Q^j‖₂ with Q^j = vec(Σ_c A_c²) the attention map of stage j
    (`losses.feature.attention_transfer_loss`); the teacher's maps are
    ``targets['teacher_attention']`` (``TeacherFeatures.from_model(kind='attention')``),
    the stages' maps concatenated in order. Matched stages must have equal spatial sizes.

    The term is the per-example form of the one RepDistiller weighs with Table 5's β
    (1000, SoTeacher 500) on the three stages of a CIFAR net, so that β carries over as
    β_table / 2 (the KD factor). In the AT paper's eq. (2), with the squared norm of its
    code, β here is its β/2 (before its division by H_j·W_j, which the term makes).
    RepDistiller pools the larger of two unequal stages; here they must be equal.

    Args:
      backbone: a functional Keras model returning logits, with the layers `stages`.
      teacher_spatial_shapes: ((H, W), ...) of the teacher's stages
        (``TeacherFeatures.spatial_shapes``); they must equal the student's.
      beta: β >= 0.
      stages: the student's stage layers, matched in order with the teacher's.
      alpha, temperature: see `KDModel`.
    """

    target_key = TARGET_KEYS["attention"]

    def __init__(
        self,
        backbone,
        teacher_spatial_shapes,
        beta,
        stages=DEFAULT_STAGES,
        alpha=0.5,
        temperature=4.0,
        **kwargs,
    ):
        super().__init__(backbone, tuple(stages), beta, alpha, temperature, **kwargs)
        student_shapes = spatial_shapes(self.outputs_and_logits.outputs[:-1], self.layer_names)
        teacher_shapes = tuple((int(h), int(w)) for h, w in teacher_spatial_shapes)
        if student_shapes != teacher_shapes:
            raise ValueError(
                f"attention transfer matches stages of equal spatial sizes; the student's stages "
                f"{list(self.layer_names)} have {student_shapes}, the teacher's {teacher_shapes}."
            )
        self.spatial_shapes = student_shapes

    @property
    def teacher_width(self):
        return sum(h * w for h, w in self.spatial_shapes)

    def teacher_layout(self):
        return f"the teacher's attention maps of spatial shapes {self.spatial_shapes}"

    def distillation_term(self, student_outputs, teacher_targets):
        sizes = [h * w for h, w in self.spatial_shapes]
        teacher_maps = tf.split(teacher_targets, sizes, axis=-1)
        student_maps = [attention_map(output) for output in student_outputs]
        return attention_transfer_loss(student_maps, teacher_maps)

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_spatial_shapes": [list(shape) for shape in self.spatial_shapes],
            "stages": list(self.layer_names),
        }
