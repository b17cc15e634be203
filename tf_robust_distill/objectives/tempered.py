"""Soft distillation at temperature T: the student's logits divided by T, as the teacher's.

Weighted distillation (Iliopoulos et al., NeurIPS 2022) §1: the student minimizes "the
cross-entropy (or KL-divergence) with the probability distribution produced by the teacher
while also potentially using a temperature higher than 1 in the softmax of both models".
SLaM (Kontonis et al., NeurIPS 2023) Remark 4.1: "we performed soft-distillation with
temperature set to 1, i.e., for every example we do not scale the corresponding teacher
and student logits" — at T ≠ 1 every example's student logits are scaled, labeled ones too.

T² scaling: none. Hinton et al.'s T² keeps a soft term's gradient on the scale of a
true-label term it is added to; here every example reads one loss ℓ(y, softmax(f/T)), the
papers state no factor, and the temperature ablations (SLaM App. D.5, weighted paper
App. B.2) compare students trained with adaptive optimizers, where a constant factor only
rescales the learning rate of SGD.
"""

from tf_robust_distill import checks


class TemperedStudent:
    """Mixin of a `DistillationModel`: ``tempered(logits)`` = logits / T.

    Args:
      temperature: T > 0 (default 1: the student's logits as they are).
    """

    def __init__(self, backbone, temperature=1.0, **kwargs):
        super().__init__(backbone, **kwargs)
        if not checks.is_real(temperature) or not temperature > 0:
            raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
        self.temperature = float(temperature)

    def tempered(self, logits):
        """The student's logits at temperature T: f(x) / T."""
        return logits if self.temperature == 1.0 else logits / self.temperature

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
