"""Choosing between values by a boolean condition: ``where`` and ``masked_fill``.

The condition is data, not a differentiable input: it is passed as an array (or a boolean tensor)
and gets no gradient. The gradient flows only to the values that were chosen.
"""

from __future__ import annotations

from ..autograd import Case, Function, array_of, unbroadcast
from ..backend import get_array_module
from ._cases import rand


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

    @classmethod
    def cases(cls):
        from ..functional import where

        def mk(sa, sb, sc):
            return lambda xp, dt, rng: [rand(xp, dt, rng, sa), rand(xp, dt, rng, sb)]

        def cond(shape):
            import numpy as np

            return np.random.default_rng(7).random(shape) > 0.5

        return [
            Case(
                "same shapes",
                lambda a, b: where(cond((3, 4)), a, b),
                mk((3, 4), (3, 4), (3, 4)),
                lambda t, a, b: t.where(t.as_tensor(cond((3, 4))), a, b),
            ),
            Case(
                "broadcast",
                lambda a, b: where(cond((2, 3, 1)), a, b),
                mk((3, 4), (), (2, 3, 1)),
                lambda t, a, b: t.where(t.as_tensor(cond((2, 3, 1))), a, b),
            ),
        ]


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

    @classmethod
    def cases(cls):
        import numpy as np

        tri = np.triu(np.ones((4, 4), dtype=bool), k=1)
        # a moderate fill value: a huge one (attention's -1e4) adds |L| ~ 1e4 to the checked loss,
        # and the finite difference's rounding noise (~1e-16 |L| / h) would then reach 1e-6
        return [
            Case(
                "causal",
                lambda a: a.masked_fill(tri, -3.0),
                lambda xp, dt, rng: [rand(xp, dt, rng, (2, 4, 4))],
                lambda t, a: a.masked_fill(t.as_tensor(tri), -3.0),
            ),
        ]
