"""The objective registry: every objective registers itself by name, with its roles.

An objective class registers one or more names with a class decorator (torchdistill's
``register_...`` idea), stackable so that one class serves several names with fixed
arguments::

    @register("rob", roles=("teacher", "student"), derived=("class_priors",), alpha=1.0)
    @register("tdf", roles=("teacher", "student"), derived=("class_priors",))
    class RobustModel(BalancedModel): ...

A name declares

- ``roles``: where a job may use it: ``"teacher"`` (trained on the true labels),
  ``"student"`` (the main job's student, distilled from the teacher's labels on the
  training set) or ``"unlabeled_student"`` (the student of the job with unlabeled
  examples, which also reads the per-example arrays of the labeled/unlabeled split);
- ``derived``: the constructor's arguments that only the job can compute from its data
  (``class_priors``, ``num_train_examples``, ``validation_labels``, ``temperature``,
  ``teacher_feature_dim``, ``teacher_spatial_shapes``), supplied by the job, never by a
  config. ``num_train_examples`` sizes per-example state: the SoTeacher buffer, and for an
  unlabeled student its debiasing weights (the unlabeled grid reads it so);
- ``fixed``: constructor arguments that the name sets (``rob`` is ``RobustModel`` with
  ``alpha=1.0``).

Every other argument of the constructor (and of the constructors it forwards
``**kwargs`` to, up to ``keras.Model``) is an option a config may set in its
``objective_kw``, under the constructor's own name. ``distill`` is not an option either:
`build` passes ``distill = role != "teacher"`` to every constructor that takes it.
Registration happens when ``tf_robust_distill.objectives`` is imported.
"""

import dataclasses
import inspect
import types
from collections.abc import Mapping

import keras

TEACHER = "teacher"
STUDENT = "student"
UNLABELED_STUDENT = "unlabeled_student"
ROLES = (TEACHER, STUDENT, UNLABELED_STUDENT)
DISTILL = "distill"

_SPECS: dict = {}


def constructor_defaults(model_class):
    """{argument: default} of the constructor of `model_class`, backbone excluded.

    Lists what the constructor accepts by keyword (``inspect.Parameter.empty`` for no
    default), following ``**kwargs`` up the class hierarchy until ``keras.Model``, whose
    own keyword arguments (name, dtype, ...) are not an objective's. A parent's argument
    without a default that the subclass does not take itself is one the subclass fills
    (e.g. the layers a feature term reads), so it is not listed.
    """
    found = {}
    for depth, cls in enumerate(c for c in model_class.__mro__ if "__init__" in vars(c)):
        if cls is keras.Model or cls is object:
            break
        forwards = False
        for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
            elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            elif depth > 0 and parameter.default is inspect.Parameter.empty:
                continue
            elif parameter.name != "backbone":
                found.setdefault(parameter.name, parameter.default)
        if not forwards:
            break
    return found


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective name: its class, roles, derived and fixed arguments."""

    name: str
    model_class: type
    roles: tuple
    derived: tuple
    fixed: Mapping

    @property
    def options(self):
        """The arguments a config may set in ``objective_kw``, in the constructor's order."""
        taken = {*self.derived, *self.fixed, DISTILL}
        return tuple(p for p in constructor_defaults(self.model_class) if p not in taken)

    def settings(self, objective_kw):
        """{option: value} the model would be built with: defaults, overridden by `objective_kw`."""
        defaults = constructor_defaults(self.model_class)
        return {option: objective_kw.get(option, defaults[option]) for option in self.options}

    def select_options(self, objective_kw):
        """The part of `objective_kw` this objective takes (for a grid sharing options)."""
        return {key: value for key, value in objective_kw.items() if key in self.options}

    def check_options(self, objective_kw, role):
        """Raise a ValueError naming an `objective_kw` key the objective does not take."""
        options = self.options
        for key in objective_kw:
            if key not in options:
                allowed = ", ".join(options) or "none"
                raise ValueError(
                    f"{role} objective {self.name!r} takes no option {key!r}; its options: "
                    f"{allowed}"
                )

    def build(self, backbone, *, role, derived=None, **objective_kw):
        """The model of this name for `role` around `backbone`."""
        check_role(self, role)
        self.check_options(objective_kw, role)
        derived = derived or {}
        missing = [key for key in self.derived if key not in derived]
        if missing:
            raise ValueError(
                f"{role} objective {self.name!r} needs the derived argument(s) {missing}"
            )
        arguments = {key: derived[key] for key in self.derived}
        if DISTILL in constructor_defaults(self.model_class):
            arguments[DISTILL] = role != TEACHER
        arguments.update(self.fixed)
        return self.model_class(backbone, **arguments, **objective_kw)


def register(name, *, roles, derived=(), **fixed):
    """Class decorator: register `name` for `roles` (see the module docstring)."""
    roles, derived = tuple(roles), tuple(derived)
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise ValueError(f"roles of {name!r} must be among {ROLES}, got {roles}")

    def decorate(model_class):
        previous = _SPECS.get(name)
        if previous is not None and previous.model_class is not model_class:
            raise ValueError(
                f"objective {name!r} is already registered by {previous.model_class.__name__}"
            )
        parameters = constructor_defaults(model_class)
        unknown = [key for key in (*derived, *fixed) if key not in parameters]
        if unknown:
            raise ValueError(f"{model_class.__name__} takes no argument(s) {unknown} ({name!r})")
        _SPECS[name] = ObjectiveSpec(
            name, model_class, roles, derived, types.MappingProxyType(dict(fixed))
        )
        return model_class

    return decorate


def unregister(name):
    """Remove `name` (e.g. an objective a test or a notebook cell registered)."""
    _SPECS.pop(name, None)


def names(role=None):
    """The registered names (of `role`, if given), sorted."""
    return tuple(sorted(name for name, spec in _SPECS.items() if role in (None, *spec.roles)))


def check_role(spec, role, extra_names=()):
    if role not in spec.roles:
        raise_unknown(spec.name, role, extra_names)


def raise_unknown(name, role, extra_names=()):
    """The ValueError for an objective name that `role` cannot use."""
    allowed = ", ".join([*names(role), *extra_names])
    label = f"{role.replace('_', ' ')} " if role else ""
    raise ValueError(f"unknown {label}objective {name!r}; choose one of {allowed}")


def get(name, role=None, extra_names=()):
    """The `ObjectiveSpec` of `name`; a ValueError naming the allowed ones if unknown.

    Args:
      role: also require that `name` serves this role.
      extra_names: names the caller handles itself (e.g. a job's untrained students),
        listed in the error message.
    """
    if name not in _SPECS:
        raise_unknown(name, role, extra_names)
    spec = _SPECS[name]
    if role is not None:
        check_role(spec, role, extra_names)
    return spec


def build(name, backbone, *, role, derived=None, **objective_kw):
    """The model registered as `name` for `role` around `backbone`.

    Args:
      derived: {argument: value} for the name's derived arguments (extra keys ignored).
      objective_kw: the objective's options, under the constructor's own names.

    Raises:
      ValueError: an unknown name for the role (naming the allowed ones), an unknown
        option (naming the objective's options) or a missing derived argument.
    """
    return get(name, role).build(backbone, role=role, derived=derived, **objective_kw)
