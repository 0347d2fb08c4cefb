"""Command-line flags from a settings dataclass: one ``--flag`` per field, shared by the commands.

A field with a range (``npgpt.settings.setting(..., range=...)``) becomes a flag whose value is
checked when the command line is read (a one-line error, exit 2) and whose ``--help`` says the range.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..settings import range_of

_TYPES = {"int": int, "float": float, "str": str, "str | None": str, "int | None": int, "float | None": float}


def help_with_range(help_text, range_, default):
    """``help (range; default: x)``: what ``--help`` shows for a flag."""
    parts = [str(range_)] if range_ is not None else []
    return f"{help_text} ({'; '.join([*parts, f'default: {default}'])})"


def add_dataclass_flags(parser, cls):
    """One ``--flag`` per field of the settings dataclass ``cls`` (its help, range and default shown).

    Every flag defaults to None, so a command can tell the settings a user gave from the defaults.
    """
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        r = range_of(f)
        help_text = help_with_range(f.metadata.get("help", ""), r, f.default)
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            typ = r.parse if r is not None else _TYPES[f.type if isinstance(f.type, str) else f.type.__name__]
            choices = f.metadata.get("choices")
            parser.add_argument(flag, type=typ, default=None, help=help_text, choices=choices)


def given_flags(cls, args) -> dict:
    """{field: value} of the fields of ``cls`` whose flag the user gave."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
