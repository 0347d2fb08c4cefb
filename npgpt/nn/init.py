"""Weight initialisation, in place on a Parameter's array (as ``torch.nn.init``).

Random numbers are drawn on the CPU from a NumPy ``Generator`` in float32 (then converted to the
parameter's dtype and device), so a seed gives the same weights on NumPy or CuPy, and a float64
model is exactly the upcast of the float32 one.
"""

from __future__ import annotations

import numpy as np

from ..backend import as_generator, to_device


def _fill(param, values):
    param.data[...] = to_device(values.astype(param.dtype, copy=False), param.device)
    return param


def normal_(param, std, rng, mean=0.0):
    """Fill with samples of N(mean, std^2)."""
    v = as_generator(rng).standard_normal(param.shape, dtype=np.float32)
    v *= np.float32(std)
    if mean:
        v += np.float32(mean)
    return _fill(param, v)


def uniform_(param, low, high, rng):
    """Fill with samples of U(low, high)."""
    v = as_generator(rng).random(param.shape, dtype=np.float32)
    v *= np.float32(high - low)
    v += np.float32(low)
    return _fill(param, v)


def zeros_(param):
    param.data[...] = 0
    return param


def ones_(param):
    param.data[...] = 1
    return param
