"""The ``--help`` text of an experiment's config: every field, its default and its comment.

ml_collections defines a ``--config.FIELD`` flag only for the fields a command line
sets, so absl's flag list shows ``--config`` alone; an experiment appends this text to
its docstring, which absl prints as the usage (``python -m experiments.NAME --help``).
A field's help is the comment the config module writes above or beside its first
assignment (``configs/distill.py`` for the fields the other configs inherit).
"""

import inspect
import re
import textwrap

import ml_collections

from configs import distill

ASSIGNMENT = re.compile(r"^\s*(?:config\.)?([A-Za-z_]\w*(?:\.\w+)+)\s*=[^=]")
"""A line assigning a dotted field (``config.teacher.net = ...``, ``grid.repeats = ...``)."""
TABLE_WIDTH = 100
"""A section whose keys are names rather than fields (a grid's table of teachers) is shown
as one value, cut at this many characters."""


def fields(config, prefix=""):
    """(dotted name, default) of every field of `config`, sections flattened in key order."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        section = isinstance(value, ml_collections.ConfigDict)
        if section and len(value) and all(str(k).isidentifier() for k in value):
            yield from fields(value, f"{name}.")
        elif section:
            text = repr(value.to_dict())
            yield name, text if len(text) <= TABLE_WIDTH else text[: TABLE_WIDTH - 3] + "..."
        else:
            yield name, repr(value)


def field_comments(*modules):
    """{dotted name: comment} from the source of `modules`: the comment lines right above
    a field's first assignment and the comment after it; earlier modules win."""
    comments = {}
    for module in modules:
        block = []
        for line in inspect.getsource(module).splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                block.append(stripped.lstrip("#").strip())
                continue
            match = ASSIGNMENT.match(line)
            if match:
                trailing = line.partition("  # ")[2]
                text = " ".join([*block, trailing]).strip()
                if text:
                    comments.setdefault(match[1], text)
            block = []
    return comments


def fields_help(module):
    """The fields of ``module.get_config()`` (the config module's default variant): one
    line each with its default, its comment below it, after how to set them."""
    path = module.__name__.replace(".", "/") + ".py"
    comments = field_comments(module, distill)
    lines = [
        f"Config fields, with their defaults in {path} (its default variant). Set any of",
        "them with --config.FIELD=VALUE (None for an optional field); the docstring of",
        f"{path} lists the variants.",
        "",
    ]
    for name, value in fields(module.get_config()):
        lines.append(f"  {name} = {value}")
        if name in comments:
            lines.extend(
                textwrap.wrap(comments[name], 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
            )
    return "\n".join(lines).replace("%", "%%") + "\n"
