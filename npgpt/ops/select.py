"""Choosing between values by a boolean condition: ``where`` and ``masked_fill``.

The condition is data, not a differentiable input: it is passed as an array and gets no gradient.
The gradient flows only to the values that were chosen.
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from .broadcast import unbroadcast


class Where(Function):
    """y = a where cond else b (all three broadcast).  da = dy where cond, db = dy elsewhere."""

    @staticmethod
    def forward(ctx, a, b, cond):
        xp = get_array_module(a)
        cond = xp.asarray(cond)  # no copy when it already lives with a
        ctx.save_for_backward(cond)
        ctx.shapes = a.shape, b.shape
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        sa, sb = ctx.shapes
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
        mask = xp.asarray(mask)
        ctx.save_for_backward(mask)
        return xp.where(mask, x.dtype.type(value), x)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        xp = get_array_module(g)
        return (xp.where(mask, g.dtype.type(0), g),)
