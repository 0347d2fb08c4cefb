"""Input makers for the gradient-check ``Case``s of each op.

Inputs are drawn on the CPU from a seeded ``numpy.random.Generator`` and then moved to the array
module under test, so NumPy and CuPy runs see identical numbers.
"""

from __future__ import annotations

import numpy as np


def rand(xp, dtype, rng, shape):
    """Standard-normal array."""
    return xp.asarray(rng.standard_normal(shape).astype(dtype))


def randpos(xp, dtype, rng, shape):
    """Uniform in [0.5, 2): safe for log, sqrt, division and powers."""
    return xp.asarray(rng.uniform(0.5, 2.0, shape).astype(dtype))


def distinct(xp, dtype, rng, shape):
    """Values whose pairwise gaps are at least 0.05: no ties, so max/argmax are stable under eps."""
    n = int(np.prod(shape)) if shape else 1
    v = (rng.permutation(n) * 0.05 + rng.uniform(-0.01, 0.01)).astype(dtype)
    return xp.asarray((v - v.mean()).reshape(shape))


def ints(xp, rng, shape, high):
    return xp.asarray(rng.integers(0, high, shape))
