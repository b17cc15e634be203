"""Optional config fields: None by default, and None again from the command line.

ml_collections parses ``--config.FIELD=VALUE`` with the parser of the field's type, so a
``placeholder(float)`` field refuses ``--config.FIELD=None`` (``float('None')`` fails) and
a ``placeholder(str)`` field takes it as the string "None". `optional(float)` is a field of
type ``float | int | None`` instead, whose parser, registered here with ml_collections,
reads ``None`` (any case) as None and every other value with the type's own parser.
"""

import ml_collections
from absl import flags
from ml_collections import config_flags

BASE_PARSERS = {
    float: flags.FloatParser(),
    int: flags.IntegerParser(),
    str: flags.ArgumentParser(),
}
# A float field takes Python ints too, as ml_collections' float fields do.
FIELD_TYPES = {float: float | int | None, int: int | None, str: str | None}
NONE = "none"


class NoneOrParser(flags.ArgumentParser):
    """Parses "None" (any case) as None, anything else with `parser`."""

    def __init__(self, parser):
        self.parser = parser

    def parse(self, argument):
        if isinstance(argument, str) and argument.strip().lower() == NONE:
            return None
        return self.parser.parse(argument)

    def flag_type(self):
        return f"{self.parser.flag_type()} or None"


for _base, _field_type in FIELD_TYPES.items():
    config_flags.register_flag_parser_for_type(_field_type, NoneOrParser(BASE_PARSERS[_base]))


def optional(base, default=None):
    """A config field of type `base` (float, int or str) that may be None: `default` until
    set, and None from ``--config.FIELD=None`` on the command line."""
    return ml_collections.FieldReference(default, field_type=FIELD_TYPES[base])
