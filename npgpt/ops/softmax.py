"""Softmax, log-softmax and cross-entropy, each numerically stable.

Subtracting the row maximum before ``exp`` changes nothing mathematically (it cancels between
numerator and denominator) but keeps every ``exp`` at most 1, so nothing overflows.
"""

from __future__ import annotations

from ..autograd import Case, Function, array_of
from ..backend import get_array_module
from ._cases import rand


def _softmax(x, axis):
    xp = get_array_module(x)
    e = x - x.max(axis=axis, keepdims=True)
    xp.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


class Softmax(Function):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``axis``.

    Backward (Jacobian dy_i/dx_j = y_i (delta_ij - y_j) applied to g):
    dx = y * (g - sum(g * y, axis)).
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = _softmax(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        gy = g * y
        gy -= y * gy.sum(axis=ctx.axis, keepdims=True)
        return (gy,)

    @classmethod
    def cases(cls):
        return [
            Case(
                f"{s} axis={ax}",
                lambda a, ax=ax: a.softmax(axis=ax),
                lambda xp, dt, rng, s=s: [rand(xp, dt, rng, s)],
                lambda t, a, ax=ax: a.softmax(ax),
            )
            for s, ax in [((3, 5), -1), ((2, 3, 4), 1), ((4,), 0)]
        ]


class LogSoftmax(Function):
    """y_i = x_i - log sum_j exp(x_j) along ``axis``.  dx = g - softmax(x) * sum(g, axis)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        xp = get_array_module(g)
        return (g - xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True),)

    @classmethod
    def cases(cls):
        return [
            Case(
                f"{s} axis={ax}",
                lambda a, ax=ax: a.log_softmax(axis=ax),
                lambda xp, dt, rng, s=s: [rand(xp, dt, rng, s)],
                lambda t, a, ax=ax: a.log_softmax(ax),
            )
            for s, ax in [((3, 5), -1), ((2, 3, 4), 1)]
        ]


class CrossEntropy(Function):
    """Mean negative log-likelihood of the targets under softmax(logits).

    logits (..., C) float, targets (...) int; positions whose target is ``ignore_index`` do not
    count. With p = softmax(logits) and n the number of counted positions:
    loss = -(1/n) sum_i log p[i, t_i],  dlogits[i] = (p[i] - onehot(t_i)) / n  (0 for ignored rows).
    That ``p - y`` is the whole backward: the softmax and the log cancel into it. If every position
    is ignored the mean is over nothing and the loss is NaN, as in PyTorch.
    """

    @staticmethod
    def forward(ctx, logits, targets, ignore_index=-100):
        xp = get_array_module(logits)
        C = logits.shape[-1]
        z = logits.reshape(-1, C)
        t = xp.asarray(array_of(targets)).reshape(-1)
        if t.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropy: targets must be integers, got dtype {t.dtype}")
        if t.shape[0] != z.shape[0]:
            raise ValueError(f"targets {tuple(targets.shape)} do not match logits {tuple(logits.shape)}")
        valid = t != ignore_index
        safe_t = xp.where(valid, t, 0)
        # checked on the CPU only: on a GPU the test would copy a flag back to the host every step
        if xp.__name__ == "numpy" and bool(((safe_t < 0) | (safe_t >= C)).any()):
            raise ValueError(f"a target is outside [0, {C}) and is not ignore_index={ignore_index}")
        p = _softmax(z, -1)
        rows = xp.arange(z.shape[0])
        n = valid.sum()
        nll = -xp.log(p[rows, safe_t])
        loss = (nll * valid).sum() / n.astype(z.dtype)
        ctx.save_for_backward(p, safe_t, valid, n)
        ctx.shape = logits.shape
        return loss.astype(logits.dtype)

    @staticmethod
    def backward(ctx, g):
        p, t, valid, n = ctx.saved
        xp = get_array_module(p)
        scale = (g / n.astype(p.dtype)).astype(p.dtype)
        d = p * (valid[:, None] * scale)
        d[xp.arange(p.shape[0]), t] -= valid * scale
        return (d.reshape(ctx.shape),)

    @classmethod
    def cases(cls):
        from ..functional import cross_entropy

        def mk(shape):
            return lambda xp, dt, rng: [rand(xp, dt, rng, shape)]

        import numpy as np

        t1 = np.array([0, 4, 2])
        t2 = np.array([[1, 3, -100, 0], [2, 2, 4, -100]])
        return [
            Case(
                "(3,5)",
                lambda a: cross_entropy(a, t1),
                mk((3, 5)),
                lambda t, a: t.nn.functional.cross_entropy(a, t.as_tensor(t1)),
            ),
            Case(
                "(2,4,5) ignore",
                lambda a: cross_entropy(a, t2),
                mk((2, 4, 5)),
                lambda t, a: t.nn.functional.cross_entropy(a.reshape(-1, 5), t.as_tensor(t2).reshape(-1)),
            ),
        ]
