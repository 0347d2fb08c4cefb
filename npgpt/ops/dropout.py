"""Dropout: zero each entry with probability p while training, scale the rest by 1 / (1 - p).

``dropout_mask`` is the one place masks are drawn: the ``Dropout`` op and the dropout inside
``ScaledDotProductAttention`` both take theirs from it.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import as_generator, get_array_module


def dropout_mask(xp, shape, p, rng, dtype):
    """m / (1 - p) with m_i ~ Bernoulli(1 - p): a float array of ``shape`` holding 0 or 1 / (1 - p).

    ``rng`` is a Generator of module ``xp`` (numpy or cupy), an int seed, or None (fresh entropy).
    Uniforms are drawn in float32 whatever ``dtype`` is, so a float64 model drops what a float32 one does.
    """
    keep = as_generator(rng, xp).random(shape, dtype=np.float32) >= p
    m = keep * np.dtype(dtype).type(1.0 / (1.0 - p))
    return m.astype(dtype, copy=False)


class Dropout(Function):
    """Inverted dropout: y = x * m / (1 - p), m_i ~ Bernoulli(1 - p).  dx = g * m / (1 - p).

    Scaling at training time keeps the expected activation unchanged, so evaluation is the
    identity. ``rng`` is a Generator of the input's array module, or an int seed.
    """

    @staticmethod
    def forward(ctx, x, p, rng=None):
        m = dropout_mask(get_array_module(x), x.shape, p, rng, x.dtype)
        ctx.save_for_backward(m)
        return x * m

    @staticmethod
    def backward(ctx, g):
        (m,) = ctx.saved_tensors
        return (g * m,)
