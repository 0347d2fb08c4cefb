"""Softmax, log-softmax and cross-entropy, each numerically stable.
### BEGIN SOLUTION 4.1

Subtracting the row maximum before ``exp`` changes nothing mathematically (it cancels between
numerator and denominator) but keeps every ``exp`` at most 1, so nothing overflows.
### END SOLUTION 4.1
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module


def _softmax(x, axis):
    """softmax(x) along ``axis``, x's shape and dtype, finite for any finite x (see the module docstring)."""
    xp = get_array_module(x)
    ### BEGIN SOLUTION 4.1
    e = x - x.max(axis=axis, keepdims=True)
    xp.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e
    ### END SOLUTION 4.1


class Softmax(Function):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``axis``.
    ### BEGIN SOLUTION 4.2

    Backward (Jacobian dy_i/dx_j = y_i (delta_ij - y_j) applied to g):
    dx = y * (g - sum(g * y, axis)).
    ### END SOLUTION 4.2
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = _softmax(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ### BEGIN SOLUTION 4.2
        gy = g * y
        gy -= y * gy.sum(axis=ctx.axis, keepdims=True)
        return (gy,)
        ### END SOLUTION 4.2


class LogSoftmax(Function):
    """y_i = x_i - log sum_j exp(x_j) along ``axis``.
    ### BEGIN SOLUTION 4.3

    dx = g - softmax(x) * sum(g, axis).
    ### END SOLUTION 4.3
    """

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = get_array_module(x)
        ### BEGIN SOLUTION 4.1
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ### END SOLUTION 4.1
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        xp = get_array_module(g)
        ### BEGIN SOLUTION 4.3
        return (g - xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True),)
        ### END SOLUTION 4.3


class CrossEntropy(Function):
    """Mean negative log-likelihood of the targets under softmax(logits).

    logits (..., C) float, targets (...) int; positions whose target is ``ignore_index`` do not
    count. With p = softmax(logits) and n the number of counted positions:
    loss = -(1/n) sum_i log p[i, t_i]. If every position is ignored the mean is over nothing and the
    loss is NaN, as in PyTorch.
    ### BEGIN SOLUTION 4.4

    dlogits[i] = (p[i] - onehot(t_i)) / n  (0 for ignored rows). That ``p - y`` is the whole
    backward: the softmax and the log cancel into it.
    ### END SOLUTION 4.4
    """

    @staticmethod
    def forward(ctx, logits, targets, ignore_index=-100):
        xp = get_array_module(logits)
        C = logits.shape[-1]
        z = logits.reshape(-1, C)
        t = xp.asarray(targets).reshape(-1)
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
        p, t, valid, n = ctx.saved_tensors
        xp = get_array_module(p)
        ### BEGIN SOLUTION 4.4
        scale = (g / n.astype(p.dtype)).astype(p.dtype)
        d = p * (valid[:, None] * scale)
        d[xp.arange(p.shape[0]), t] -= valid * scale
        return (d.reshape(ctx.shape),)
        ### END SOLUTION 4.4
