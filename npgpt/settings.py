"""``setting(default, help)``: one field of a settings dataclass (``TrainConfig``, ``SFTConfig``, ...).

The help text rides in the field's metadata; ``npgpt.commands.flags`` turns each field into a
``--flag`` whose ``--help`` line shows it with the default.
"""

from __future__ import annotations

import dataclasses


def setting(default, help):  # noqa: A002  (the argparse word)
    return dataclasses.field(default=default, metadata={"help": help})


def device_setting():
    """The ``device`` field of every command that trains or runs a model."""
    return setting("cpu", "cpu | cuda (CuPy: install the GPU extra, e.g. npgpt[cuda12])")
