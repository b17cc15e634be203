"""Variational information distillation (VID) on the penultimate layer, a baseline of SLaM.

Ahn, Hu, Damianou, Lawrence, Dai. Variational Information Distillation for Knowledge
Transfer. CVPR 2019, eqs. (2), (4), (5), (6), as used by SLaM (Kontonis et al. 2023, §4.2
and Remark D.1) and Weighted Distillation with Unlabeled Examples (Iliopoulos et al.
2022, §3.1.3, where "Weighted VID" multiplies the whole loss by the debiasing weights).

The student maximizes a variational lower bound of the mutual information between the
teacher's features t and its own features s: it predicts t with a Gaussian q(t | s) =
N(μ(s), diag σ²) whose mean μ is a trainable linear projection of s and whose variances
σ_n² are trainable, one per dimension (the same for every example, eq. (5)). The
teacher's features come from the bulk inference, as ``targets['teacher_features']``.
"""

import math

import keras
import tensorflow as tf

from tf_robust_distill import checks, losses
from tf_robust_distill.data.teacher_features import TARGET_KEYS
from tf_robust_distill.nets.layer_names import FEATURES_LAYER
from tf_robust_distill.objectives import targets as targets_dict
from tf_robust_distill.objectives.base import PACKAGE
from tf_robust_distill.objectives.feature_term import FeatureTermModel
from tf_robust_distill.objectives.registry import register
from tf_robust_distill.objectives.weighted import ExampleWeights


@keras.saving.register_keras_serializable(package=PACKAGE)
class VariationalFeatureHead(keras.layers.Layer):
    """The variational distribution q(t | s) = N(μ(s), diag σ²) of VID, computed in float32.

    μ(s) = W s + b (a dense layer) and σ_n² = softplus(a_n) + ε (eq. (5)).

    Args:
      teacher_feature_dim: N, the size of the teacher's feature vector t.
      initial_variance: σ² at initialization (5, as in the authors' implementation).
      min_variance: ε > 0 of eq. (5), a floor on σ².
    """

    def __init__(self, teacher_feature_dim, initial_variance=5.0, min_variance=1e-5, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not checks.is_integer(teacher_feature_dim) or teacher_feature_dim < 1:
            raise ValueError(
                f"teacher_feature_dim must be an integer >= 1, got {teacher_feature_dim!r}."
            )
        if not 0 < min_variance < initial_variance:
            raise ValueError(
                "VID variances need 0 < min_variance < initial_variance; got "
                f"min_variance={min_variance!r}, initial_variance={initial_variance!r}."
            )
        self.teacher_feature_dim = teacher_feature_dim
        self.initial_variance = float(initial_variance)
        self.min_variance = float(min_variance)
        self.mean = keras.layers.Dense(teacher_feature_dim, dtype="float32", name="mean")

    def build(self, input_shape):
        self.mean.build(input_shape)
        inverse_softplus = math.log(math.expm1(self.initial_variance - self.min_variance))
        self.variance_parameter = self.add_weight(
            shape=(self.teacher_feature_dim,),
            initializer=keras.initializers.Constant(inverse_softplus),
            name="variance_parameter",
        )

    def call(self, student_features):
        """(μ(s) [batch, N], σ² [N]) for student features s [batch, D]."""
        mean = self.mean(tf.cast(student_features, tf.float32))
        return mean, losses.vid_variance(self.variance_parameter, self.min_variance)

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_feature_dim": self.teacher_feature_dim,
            "initial_variance": self.initial_variance,
            "min_variance": self.min_variance,
        }


@register(
    "vid",
    roles=("unlabeled_student",),
    derived=("teacher_feature_dim",),
    num_train_examples=None,
)
@register(
    "weighted_vid",
    roles=("unlabeled_student",),
    derived=("teacher_feature_dim", "num_train_examples"),
)
@keras.saving.register_keras_serializable(package=PACKAGE)
class VIDModel(FeatureTermModel):
    """xent(y, f(x)) + λ · (−log q(t(x) | s(x))), optionally times a debiasing weight.

    y is ``targets['teacher_probs']`` (one-hot true label on labeled examples) and t
    ``targets['teacher_features']``; s is the output of the backbone's ``"features"``
    layer, computed in the same forward pass as the logits. The dropped constant of the
    Gaussian log-likelihood makes the loss negative at times; only its gradient matters.

    Args:
      backbone: a Keras model returning logits, with a layer named "features".
      teacher_feature_dim: N, the size of the teacher's feature vectors.
      coefficient: λ >= 0, the weight of the VID term (SLaM's grid: 0.001 ... 100).
      initial_variance, min_variance: see `VariationalFeatureHead`.
      num_train_examples: None for VID; N for "Weighted VID" (Iliopoulos et al. §3.1.3):
        the loss is multiplied by debiasing weights indexed by ``targets['index']``,
        estimated by `DebiasingWeightUpdate`.
    """

    target_key = TARGET_KEYS["features"]

    def __init__(
        self,
        backbone,
        teacher_feature_dim,
        coefficient=1.0,
        initial_variance=5.0,
        min_variance=1e-5,
        num_train_examples=None,
        **kwargs,
    ):
        super().__init__(backbone, (FEATURES_LAYER,), **kwargs)
        if not coefficient >= 0:
            raise ValueError(f"coefficient must be >= 0, got {coefficient!r}.")
        self.head = VariationalFeatureHead(
            teacher_feature_dim, initial_variance, min_variance, name="vid_head"
        )
        self.head.build(backbone.get_layer(FEATURES_LAYER).output.shape)
        self.coefficient = float(coefficient)
        self.debiasing_weights = (
            None
            if num_train_examples is None
            else ExampleWeights(num_train_examples, name="debiasing_weights")
        )

    @property
    def required_targets(self):
        keys = (*super().required_targets, targets_dict.TEACHER_PROBS)
        return keys if self.debiasing_weights is None else (*keys, targets_dict.INDEX)

    @property
    def teacher_width(self):
        return self.head.teacher_feature_dim

    def per_example_loss(self, targets, logits):
        """xent(y, f(x)) against ``targets['teacher_probs']``."""
        return losses.softmax_cross_entropy(targets_dict.teacher_probs(targets), logits)

    def feature_term(self, student_outputs, teacher_targets):
        """λ · (−log q(t(x) | s(x))), `losses.vid_negative_log_likelihood` of the head's q."""
        mean, variance = self.head(*student_outputs)
        return self.coefficient * losses.vid_negative_log_likelihood(
            teacher_targets, mean, variance
        )

    def feature_loss(self, targets, logits, student_outputs, training):
        """The loss, times the debiasing weight of ``targets['index']`` for Weighted VID."""
        loss = super().feature_loss(targets, logits, student_outputs, training)
        if self.debiasing_weights is None:
            return loss
        return loss * self.debiasing_weights(targets_dict.example_index(targets))

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_feature_dim": self.head.teacher_feature_dim,
            "coefficient": self.coefficient,
            "initial_variance": self.head.initial_variance,
            "min_variance": self.head.min_variance,
            "num_train_examples": (
                None if self.debiasing_weights is None else self.debiasing_weights.num_examples
            ),
        }
