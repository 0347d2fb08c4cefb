"""``setting(default, help, range)``: one field of a settings dataclass (``TrainConfig``, ``SFTConfig``, ...).

The help text and the range of values the setting accepts ride in the field's metadata.
``npgpt.commands.flags`` turns each field into a ``--flag`` whose ``--help`` line shows both with
the default, and whose value is checked against the range when the command line is read;
``check_settings`` checks a whole settings object the same way (settings from a file or from
Python), so a number is checked at the door, in one place, whatever way it came in.
"""

from __future__ import annotations

import argparse
import dataclasses
import math


class Range:
    """The numbers a setting accepts: its type (int or float) and bounds, e.g. ``Range(int, low=1)``.

    ``low`` / ``high`` are inclusive unless ``low_open`` / ``high_open``; a float must be finite.
    ``str(r)`` says it in words (shown by ``--help`` and in the error).
    """

    def __init__(self, kind, low=None, high=None, low_open=False, high_open=False):
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open

    def __str__(self):
        what = "an integer" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            return f"{what} in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high}"
        return what

    def contains(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.kind is int else (int, float)):
            return False
        if self.kind is float and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, name, value):
        """``value`` if it is in the range, else a one-line ValueError naming the setting."""
        if not self.contains(value):
            raise ValueError(f"{name} must be {self}, got {value!r}")
        return value

    def parse(self, text):
        """The argparse ``type`` of a flag with this range: the text as a number in the range."""
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {self.kind.__name__} value: {text!r}") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self}, got {text!r}")
        return value


POSITIVE_INT = Range(int, low=1)
NON_NEGATIVE_INT = Range(int, low=0)
SEED = NON_NEGATIVE_INT  # numpy's generators take a seed >= 0
POSITIVE = Range(float, low=0, low_open=True)
NON_NEGATIVE = Range(float, low=0)
PROBABILITY = Range(float, low=0, high=1, low_open=True)  # (0, 1]
FRACTION = Range(float, low=0, high=1, high_open=True)  # [0, 1): dropout, Adam's betas
# fixed evaluation batches are held in memory (eval_batches x batch_size x block_size ids per split)
EVAL_BATCHES = Range(int, low=1, high=10_000)


def setting(default, help, range=None, choices=None):  # noqa: A002  (the argparse word, and the range of values)
    """A settings field: its default, help, and the values it accepts (a numeric ``range`` or ``choices``)."""
    return dataclasses.field(default=default, metadata={"help": help, "range": range, "choices": choices})


def range_of(field) -> Range | None:
    return field.metadata.get("range")


def check_settings(settings):
    """Raise a one-line ValueError if a field of the settings dataclass is outside its range.

    A field whose default is None may be None (off); every other value must be in its range.
    """
    for f in dataclasses.fields(settings):
        r, value, choices = range_of(f), getattr(settings, f.name), f.metadata.get("choices")
        if r is not None and not (value is None and f.default is None):
            r.check(f.name, value)
        if choices and value not in choices:
            raise ValueError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")
    return settings


def device_setting():
    """The ``device`` field of every command that trains or runs a model."""
    return setting("cpu", "cpu | cuda (CuPy: install the GPU extra, e.g. npgpt[cuda12])")
