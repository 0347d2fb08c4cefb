"""Command-line flags from a settings dataclass: one ``--flag`` per field, shared by the commands."""

from __future__ import annotations

import argparse
import dataclasses

_TYPES = {"int": int, "float": float, "str": str, "str | None": str}


def add_dataclass_flags(parser, cls):
    """One ``--flag`` per field of the settings dataclass ``cls`` (its help and default shown).

    Every flag defaults to None, so a command can tell the settings a user gave from the defaults.
    """
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default: {f.default})"
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            typ = _TYPES[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=typ, default=None, help=help_text)


def given_flags(cls, args) -> dict:
    """{field: value} of the fields of ``cls`` whose flag the user gave."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
