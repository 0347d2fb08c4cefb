"""Embedding lookup and dropout."""

from __future__ import annotations

import numpy as np

from ..autograd import Case, Function, array_of
from ..backend import get_array_module
from ._cases import rand


class Embedding(Function):
    """y = W[ids]: row ``ids[...]`` of the table W (V, C) for each id; y has shape ids.shape + (C,).

    dW = zeros (V, C) with row v receiving the sum of the gradients of every position whose id is
    v. A token that appears twice gets both contributions, so the scatter adds (``add.at``).
    """

    @staticmethod
    def forward(ctx, weight, ids):
        xp = get_array_module(weight)
        ids = xp.asarray(array_of(ids))
        if ids.dtype.kind not in "iu":
            raise TypeError(f"embedding ids must be integers, got dtype {ids.dtype}")
        V = weight.shape[0]
        # checked on the CPU only (on a GPU the check would copy back to the host every step)
        if xp.__name__ == "numpy" and ids.size and (int(ids.min()) < 0 or int(ids.max()) >= V):
            raise ValueError(f"an id is outside the vocabulary [0, {V}): min {int(ids.min())}, max {int(ids.max())}")
        ctx.ids = ids
        ctx.shape = weight.shape
        return weight[ids]

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        dw = xp.zeros(ctx.shape, dtype=g.dtype)
        xp.add.at(dw, ctx.ids.reshape(-1), g.reshape(-1, ctx.shape[1]))
        return (dw,)

    @classmethod
    def cases(cls):
        from ..functional import embedding

        ids = np.array([[0, 3, 3], [5, 0, 1]])  # repeated ids: their gradients must add
        return [
            Case(
                "(6,4)[2,3]",
                lambda w: embedding(ids, w),
                lambda xp, dt, rng: [rand(xp, dt, rng, (6, 4))],
                lambda t, w: t.nn.functional.embedding(t.as_tensor(ids), w),
            ),
        ]


class Dropout(Function):
    """Inverted dropout: y = x * m / (1 - p), m_i ~ Bernoulli(1 - p).  dx = g * m / (1 - p).

    Scaling at training time keeps the expected activation unchanged, so evaluation is the
    identity. ``rng`` is a Generator of the input's array module, or an int seed.
    """

    @staticmethod
    def forward(ctx, x, p, rng=None):
        xp = get_array_module(x)
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = xp.random.default_rng(rng)
        keep = rng.random(x.shape, dtype=np.float32) >= p
        scale = x.dtype.type(1.0 / (1.0 - p))
        m = keep * scale  # float mask, already scaled
        m = m.astype(x.dtype, copy=False)
        ctx.save_for_backward(m)
        return x * m

    @staticmethod
    def backward(ctx, g):
        (m,) = ctx.saved
        return (g * m,)

    @classmethod
    def cases(cls):
        from ..functional import dropout

        return [
            Case("p=0.3", lambda a: dropout(a, 0.3, True, rng=0), lambda xp, dt, rng: [rand(xp, dt, rng, (4, 5))]),
        ]
