"""Backbone nets by name: ``nets.get(name, num_classes, input_shape)`` returns logits.

Every net is a functional ``keras.Model`` (built with ``weights=None``; nothing is
downloaded) that follows the same conventions:

- The output is the **logits** of the final dense layer, named ``"logits"`` and
  computed in float32, so a mixed-precision policy still gives float32 logits.
- The penultimate representation (globally pooled for the convolutional nets, the
  last hidden layer for ``mlp``) is the layer named ``"features"`` (``FEATURES_LAYER``), so
  ``keras.Model(net.input, net.get_layer(FEATURES_LAYER).output)`` is the feature
  extractor that feature distillation needs.
- The convolutional nets name the outputs of their stages (the blocks between two
  changes of resolution) ``"stage1"``, ``"stage2"``, ... in order, for attention
  transfer and other intermediate-feature methods.
- ``weight_decay=wd`` means SGD weight decay as in the papers' code: a gradient
  ``wd * w``, implemented as ``keras.regularizers.L2(wd / 2)`` on every kernel;
  the penalties are in ``net.losses``.
- Batch normalization uses momentum 0.9 and epsilon 1e-5, convolutions He-normal
  initialization.

Names (see `names()`): ``resnet20``, ``resnet32``, ``resnet56``, ``resnet110``
(CIFAR, He et al. 2016, option-A shortcuts); ``resnet8x4``, ``resnet32x4``
(CRD code base); ``wrn_16_2``, ``wrn_40_1``, ``wrn_40_2`` (Zagoruyko & Komodakis
2016); ``shufflenet_v2`` (CRD code base); ``resnet18``, ``resnet34``, ``resnet50``
(ImageNet, He et al. 2016); ``mobilenet`` (Howard et al. 2017; option ``alpha``,
the width multiplier); ``resnet11`` (the CelebA student of the unlabeled-distillation
papers); ``mlp`` (option ``hidden_sizes``) and ``cnn_small`` for CPU runs.
"""

# Importing the family modules registers their nets.
from tf_robust_distill.nets import (  # noqa: F401
    cifar_resnet,
    cnn_small,
    imagenet_resnet,
    mlp,
    mobilenet,
    preact_resnet,
    shufflenet_v2,
    wide_resnet,
)
from tf_robust_distill.nets.layer_names import FEATURES_LAYER
from tf_robust_distill.nets.registry import get, names

__all__ = ["FEATURES_LAYER", "get", "names"]
