"""The registry of nets: `register` adds a builder under a name, `get` builds a net by name.

A builder is called as ``builder(num_classes, input_shape, *, name, weight_decay,
**options)`` after `get` has checked every argument, and returns a functional
``keras.Model`` named ``name`` whose output is the logits. ``get`` also builds with a
factory of the caller's own, named ``"package.module:function"`` (`imported`).
"""

import inspect
import math
from collections.abc import Callable
from typing import NamedTuple

import keras

from tf_robust_distill import checks
from tf_robust_distill.nets.imported import import_factory, is_import_spec

_FIXED_KEYWORDS = ("name", "weight_decay")


class _Entry(NamedTuple):
    builder: Callable
    image_input: bool


_REGISTRY: dict[str, _Entry] = {}


def register(name, *, image_input=True):
    """Decorator that registers ``builder`` under ``name``.

    ``image_input=True`` restricts the input shape to images ``(height, width,
    channels)``; ``False`` accepts any shape.
    """

    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"A net named {name!r} is already registered.")
        _REGISTRY[name] = _Entry(builder, image_input)
        return builder

    return decorator


def names():
    """Sorted names of the registered nets."""
    return sorted(_REGISTRY)


def get(name, num_classes, input_shape, *, weight_decay=0.0, **options):
    """Builds the net registered as ``name``; its output is the logits.

    Args:
      name: a registered name, see `names()`, or ``"package.module:function"``: a
        factory of the same signature, imported (any input shape).
      num_classes: number of classes, an integer >= 2.
      input_shape: shape of one example without the batch axis; ``(height,
        width, channels)`` for the convolutional nets.
      weight_decay: SGD-style weight decay ``wd >= 0``, applied as
        ``keras.regularizers.L2(wd / 2)`` on every kernel (see
        `tf_robust_distill.nets.layers.l2_regularizer`).
      **options: options of the net, e.g. ``alpha`` for ``"mobilenet"``.

    Raises:
      ValueError: unknown name or option, or a bad ``num_classes``,
        ``input_shape`` or ``weight_decay``; a factory that cannot be imported, does
        not take these arguments or returns no ``keras.Model`` of ``num_classes`` outputs.
    """
    entry = _entry(name)
    _check_num_classes(num_classes)
    input_shape = _checked_input_shape(name, input_shape, entry.image_input)
    _check_weight_decay(weight_decay)
    _check_options(name, entry.builder, options)
    model_name = entry.builder.__name__ if is_import_spec(name) else name
    net = entry.builder(
        int(num_classes), input_shape, name=model_name, weight_decay=float(weight_decay), **options
    )
    if is_import_spec(name):
        _check_built(name, net, int(num_classes))
    return net


def check_name(name):
    """Raise `get`'s ValueError for an unknown name or a factory that cannot be imported
    or does not take the registry's arguments, before anything is built."""
    _entry(name)


def _entry(name):
    """The registered entry of `name`, or the imported factory of a "module:function" name."""
    if is_import_spec(name):
        return _Entry(import_factory(name), image_input=False)
    if name not in _REGISTRY:
        raise ValueError(f"Unknown net {name!r}; registered nets: {', '.join(names())}.")
    return _REGISTRY[name]


def _check_built(name, net, num_classes):
    if not isinstance(net, keras.Model) or tuple(net.output_shape)[1:] != (num_classes,):
        shape = getattr(net, "output_shape", None)
        raise ValueError(
            f"net {name!r} must return a keras.Model with {num_classes} logits per example "
            f"(output shape (None, {num_classes})); it returned {type(net).__name__} with "
            f"output shape {shape}."
        )


def _check_num_classes(num_classes):
    if not checks.is_integer(num_classes) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")


def _checked_input_shape(name, input_shape, image_input):
    if (
        not isinstance(input_shape, tuple | list)
        or not input_shape
        or any(not checks.is_integer(d) or d < 1 for d in input_shape)
    ):
        raise ValueError(
            f"input_shape must be a non-empty tuple of positive integers (one example, "
            f"no batch axis), got {input_shape!r}."
        )
    if image_input and len(input_shape) != 3:
        raise ValueError(
            f"Net {name!r} takes images: input_shape must be (height, width, channels), "
            f"got {tuple(input_shape)!r}. Use 'mlp' for flat feature vectors."
        )
    return tuple(int(d) for d in input_shape)


def _check_weight_decay(weight_decay):
    if not checks.is_real(weight_decay) or not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}.")


def _check_options(name, builder, options):
    allowed = [
        parameter.name
        for parameter in inspect.signature(builder).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and parameter.name not in _FIXED_KEYWORDS
    ]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"Net {name!r} has no option(s) {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(allowed) or 'none'}."
        )
