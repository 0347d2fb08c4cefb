"""Choosing the next token from the model's logits: temperature, top-k, top-p (nucleus).

All functions work on the last position's logits, shape (B, V), as arrays of either module.

* temperature T: sample from softmax(logits / T). T -> 0 sharpens to the most likely token
  (T = 0 means greedy: argmax); T > 1 flattens the distribution.
* top-k: keep only the k most likely tokens (the rest get probability 0), renormalise.
* top-p: keep the smallest set of most likely tokens whose probabilities add up to at least p.
"""

from __future__ import annotations

import numpy as np

from .backend import as_generator, get_array_module


def check_sampling_args(temperature, top_k, top_p):
    """Raise ValueError for settings that have no meaning."""
    if temperature is None or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 (or None for no limit), got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (or None for no limit), got {top_p}")


def filter_logits(logits, temperature=1.0, top_k=None, top_p=None):
    """Scaled logits (B, V) with tokens outside top-k / top-p set to -inf (returns a new array)."""
    z = logits / logits.dtype.type(temperature)
    if top_k is not None and top_k < z.shape[-1]:
        z = top_k_filter(z, int(top_k))
    if top_p is not None and top_p < 1.0:
        z = top_p_filter(z, top_p)
    return z


def top_k_filter(z, k):
    """Logits z (B, V) with all but the k largest of each row set to -inf (ties at the k-th all stay)."""
    xp = get_array_module(z)
    ### BEGIN SOLUTION 11.1
    V = z.shape[-1]
    kth = xp.partition(z, V - k, axis=-1)[:, V - k, None]
    return xp.where(z < kth, -np.inf, z)
    ### END SOLUTION 11.1


def top_p_filter(z, top_p):
    """Logits z (B, V) with -inf outside the nucleus: the fewest most likely tokens reaching top_p."""
    xp = get_array_module(z)
    ### BEGIN SOLUTION 11.2
    order = xp.argsort(-z, axis=-1)
    zs = xp.take_along_axis(z, order, axis=-1)
    ps = xp.exp(zs - zs[:, :1])
    ps /= ps.sum(axis=-1, keepdims=True)
    # a token is dropped when the tokens ranked above it already reach top_p; "reach" allows
    # for rounding, so probabilities 0.5 + 0.3 reach p = 0.8 even when they sum to 0.79999...
    tol = 64 * np.finfo(ps.dtype).eps
    drop_sorted = (xp.cumsum(ps, axis=-1) - ps) >= top_p - tol
    drop_sorted[:, 0] = False  # the most likely token always stays, however small top_p is
    drop = xp.zeros_like(drop_sorted)
    xp.put_along_axis(drop, order, drop_sorted, axis=-1)
    return xp.where(drop, -np.inf, z)
    ### END SOLUTION 11.2


def draw(z, u):
    """Token ids (B,) drawn from softmax(z) (B, V) with uniform numbers u (B, 1) in [0, 1)."""
    xp = get_array_module(z)
    ### BEGIN SOLUTION 11.3
    p = xp.exp(z - z.max(axis=-1, keepdims=True))
    cdf = xp.cumsum(p, axis=-1)
    ids = (cdf <= u * cdf[:, -1:]).sum(axis=-1)  # first index whose cumulative mass exceeds u
    return xp.minimum(ids, z.shape[-1] - 1)
    ### END SOLUTION 11.3


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, rng=None):
    """Next token ids (B,) from last-position logits (B, V).

    ``rng`` is a ``numpy.random.Generator`` (or a CuPy one for CuPy logits); the draw is one
    uniform number per row, pushed through the inverse of the filtered distribution's CDF.
    """
    check_sampling_args(temperature, top_k, top_p)
    xp = get_array_module(logits)
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = filter_logits(logits.astype(np.float64), temperature, top_k, top_p)
    rng = as_generator(rng, xp)
    return draw(z, xp.asarray(rng.random((logits.shape[0], 1))))
