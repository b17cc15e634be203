"""A net factory of the user's own, named ``"package.module:function"`` where a registered
net's name goes (``--config.student.net=mypackage.nets:build``).

The function is imported when the net is built and must take the registry's arguments:
``function(num_classes, input_shape, *, name, weight_decay, **options)``, returning a
``keras.Model`` whose output is the logits (`nets.registry`).
"""

import importlib
import inspect

SEPARATOR = ":"
SIGNATURE = "(num_classes, input_shape, *, name, weight_decay)"


def is_import_spec(name):
    """Whether `name` names a factory to import ("module:function") rather than a registered net."""
    return isinstance(name, str) and SEPARATOR in name


def import_factory(spec):
    """The function that ``"package.module:function"`` names, checked to take the registry's
    arguments.

    Raises:
      ValueError: the spec is malformed, the module cannot be imported, it has no such
        callable, or the callable does not accept ``SIGNATURE``.
    """
    module_name, _, function_name = spec.partition(SEPARATOR)
    if not module_name or not function_name.isidentifier():
        raise ValueError(f"net {spec!r} must be a registered name or 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"net {spec!r}: cannot import the module {module_name!r} "
            f"({type(error).__name__}: {error}); is it on the Python path?"
        ) from error
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise ValueError(
            f"net {spec!r}: the module {module_name!r} has no function {function_name!r}"
        )
    try:
        inspect.signature(factory).bind(2, (1,), name="net", weight_decay=0.0)
    except TypeError as error:
        raise ValueError(
            f"net {spec!r}: a net factory is called as {function_name}{SIGNATURE}, but "
            f"{function_name}{inspect.signature(factory)} does not accept that ({error})"
        ) from error
    return factory
