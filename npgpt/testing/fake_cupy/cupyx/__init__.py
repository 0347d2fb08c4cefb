"""``cupyx`` of the stand-in: ``allow_synchronize``, and ``scipy.special.erf``."""

from __future__ import annotations

import contextlib

from cupy._core import SYNC


@contextlib.contextmanager
def allow_synchronize(allow):
    before = SYNC["allowed"]
    SYNC["allowed"] = bool(allow)
    try:
        yield
    finally:
        SYNC["allowed"] = before
