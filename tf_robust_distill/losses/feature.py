"""Feature-distillation terms: FitNets' hint regression and attention transfer.

Per example, pure TensorFlow, in float32; the model reduces. The SoTeacher paper
(Dong et al., App. D.2, Tables 5-6) adds them to Hinton's KD with a weight β.
"""

import tensorflow as tf

from tf_robust_distill.losses.cross_entropy import float32


def hint_regression_loss(teacher_features, regressed_student_features):
    """FitNets' hint loss ½ ‖u_h(x) − r(v_g(x))‖², Romero et al. (ICLR 2015), eq. (3).

    u_h(x) is the teacher's hint (here its penultimate features) and r(v_g(x)) the
    student's guided layer mapped to the teacher's width by the trainable regressor r.

    Args:
      teacher_features: [batch, D_t] the teacher's features u_h(x).
      regressed_student_features: [batch, D_t] r(v_g(x)).
    """
    difference = float32(teacher_features) - float32(regressed_student_features)
    return 0.5 * tf.reduce_sum(tf.square(difference), axis=-1)


def attention_map(feature_map):
    """The normalized activation-based attention map Q / ‖Q‖₂ of one stage.

    Zagoruyko & Komodakis, Paying More Attention to Attention (ICLR 2017): §3.1's
    F^p_sum(A) = Σ_c |A_c|^p with p = 2 (the variant of their experiments), vectorized,
    Q = vec(F(A)) ∈ R^{H·W}, and divided by its ℓ2 norm as in eq. (2). A map that is 0
    everywhere stays 0.

    Args:
      feature_map: [batch, H, W, C] activations A (channels last), H and W static.

    Returns:
      [batch, H·W] float32 rows of unit ℓ2 norm.

    Raises:
      ValueError: `feature_map` is not 4-D or its spatial size is not static.
    """
    feature_map = float32(feature_map)
    if feature_map.shape.rank != 4 or None in feature_map.shape[1:3]:
        raise ValueError(
            "attention maps need [batch, H, W, C] activations with a static H and W; "
            f"got shape {feature_map.shape}."
        )
    height, width = feature_map.shape[1], feature_map.shape[2]
    energy = tf.reshape(tf.reduce_sum(tf.square(feature_map), axis=-1), [-1, height * width])
    return tf.math.l2_normalize(energy, axis=-1, epsilon=1e-12)


def attention_transfer_loss(student_maps, teacher_maps):
    """Σ_j ‖q_S^j − q_T^j‖₂² / (H_j W_j) over the matched stages j, q = Q / ‖Q‖₂.

    Zagoruyko & Komodakis (ICLR 2017), eq. (2), writes (β/2) Σ_j ‖q_S^j − q_T^j‖_p with
    p = 2 and, for CIFAR, β = 10³ divided by the number of elements of the attention map
    and by the batch size. Their code, and RepDistiller (Tian et al. 2020) whose β the
    SoTeacher paper reports (Table 5: 1000), square the norm and average it over the
    batch and the H·W positions: per example, this function. β (or β/2) multiplies it
    in the model.

    Args:
      student_maps: sequence of [batch, H_j·W_j] normalized student maps (`attention_map`).
      teacher_maps: the teacher's, same stages in the same order and of the same sizes.

    Raises:
      ValueError: a different number of stages, or a stage whose sizes differ.
    """
    if len(student_maps) != len(teacher_maps) or not student_maps:
        raise ValueError(
            f"attention transfer matches stages one to one; got {len(student_maps)} student "
            f"and {len(teacher_maps)} teacher maps."
        )
    terms = []
    for stage, (student, teacher) in enumerate(zip(student_maps, teacher_maps, strict=True)):
        if student.shape[-1] != teacher.shape[-1]:
            raise ValueError(
                f"stage {stage}: the student's attention map has {student.shape[-1]} positions, "
                f"the teacher's {teacher.shape[-1]}; matched stages need equal spatial sizes."
            )
        terms.append(tf.reduce_mean(tf.square(float32(student) - float32(teacher)), axis=-1))
    return tf.add_n(terms)
