"""Choosing between values by a boolean condition: ``where`` and ``masked_fill``.

The condition is data, not a differentiable input: it is passed as an array (or a boolean tensor)
and gets no gradient. The gradient flows only to the values that were chosen.
"""

from __future__ import annotations

from ..autograd import Function, array_of
from ..backend import get_array_module
from .broadcast import unbroadcast


def _cond_array(cond):
    return array_of(cond)


class Where(Function):
    """y = a where cond else b (all three broadcast).  da = dy where cond, db = dy elsewhere."""

    @staticmethod
    def forward(ctx, a, b, cond):
        xp = get_array_module(a)
        cond = xp.asarray(_cond_array(cond))  # no copy when it already lives with a
        ctx.meta = cond, a.shape, b.shape
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, sa, sb = ctx.meta
        xp = get_array_module(g)
        zero = g.dtype.type(0)
        ga = unbroadcast(xp.where(cond, g, zero), sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(xp.where(cond, zero, g), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class MaskedFill(Function):
    """y = value where mask else x (mask broadcasts to x).  dx = dy where not mask, else 0.

    Attention uses it to put -inf on the scores of future positions before the softmax.
    """

    @staticmethod
    def forward(ctx, x, mask, value):
        xp = get_array_module(x)
        mask = xp.asarray(_cond_array(mask))
        ctx.mask = mask
        return xp.where(mask, x.dtype.type(value), x)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return (xp.where(ctx.mask, g.dtype.type(0), g),)
