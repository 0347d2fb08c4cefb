"""``cupyx.scipy.special.erf`` of the stand-in (math.erf, entry by entry)."""

from __future__ import annotations

import math

import numpy as np
from cupy._core import unwrap, wrap

_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    a = unwrap(x)
    return wrap(_erf(a).astype(a.dtype))
