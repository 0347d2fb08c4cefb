"""Assignment 4, REFERENCE SOLUTIONS (instructors: delete this file from the student handout).

``exercises.py`` is this file with the bodies replaced by TODOs. The graders test this file by
default (``pytest lessons/a04_softmax_cross_entropy``), which shows it is solvable.

Part 1, ``logsumexp``: the numerically stable log(sum(exp(x))), on which every forward below rests.
Part 2, the backward of ``Softmax``, ``LogSoftmax`` and ``CrossEntropy`` (their forwards are given and
save in ``ctx`` what the backward needs). A backward receives g = dL/dy (y's shape; a 0-d array for
the scalar loss) and returns one gradient per differentiable input, of exactly that input's shape
and dtype. Take the array module from the arrays, ``xp = get_array_module(g)``, instead of writing
``np.``: the same code then runs on CuPy.

With p = softmax(x) along ``axis``:
- softmax:      dp_i/dx_j = p_i (delta_ij - p_j)   ->  dx = p * (g - sum(g * p, axis))
- log-softmax:  dy_i/dx_j = delta_ij - p_j         ->  dx = g - p * sum(g, axis)
- cross-entropy (mean over the n counted rows):    ->  dlogits = g * (p - onehot(t)) / n, 0 on ignored rows
"""

from __future__ import annotations

from npgpt.autograd import Function
from npgpt.backend import get_array_module
from npgpt.tensor import array_of


# ============================================================================ Part 1: the forward
def logsumexp(x, axis=-1):
    """log(sum(exp(x), axis)) with ``keepdims=True``, without overflow or underflow.

    With m = max(x, axis, keepdims=True): log sum_j exp(x_j) = m + log sum_j exp(x_j - m). Every
    exponent is <= 0 (no overflow) and the largest is exactly 0 (the sum is >= 1: its log is
    finite). x (..., C, ...) -> (..., 1, ...). Example: x = [1000, 1000] gives [1000 + log 2].
    """
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    return m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))


# ============================================================================ Part 2: backward
class Softmax(Function):
    """y = softmax(x) along ``axis``: y_i = exp(x_i - logsumexp(x))."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = get_array_module(x)
        y = xp.exp(x - logsumexp(x, axis))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)``: dx = y * (g - sum(g * y, axis=ctx.axis, keepdims=True)), with
        ``(y,) = ctx.saved_tensors``.

        That is the vector-Jacobian product with dy_i/dx_j = y_i (delta_ij - y_j), in O(C) per row
        instead of building the C x C Jacobian.
        """
        (y,) = ctx.saved_tensors
        return (y * (g - (g * y).sum(axis=ctx.axis, keepdims=True)),)


class LogSoftmax(Function):
    """y = log softmax(x) along ``axis``: y_i = x_i - logsumexp(x)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        y = x - logsumexp(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)``: dx = g - softmax(x) * sum(g, axis=ctx.axis, keepdims=True).

        ``(y,) = ctx.saved_tensors`` is log softmax(x), so softmax(x) = exp(y).
        """
        xp = get_array_module(g)
        (y,) = ctx.saved_tensors
        return (g - xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True),)


class CrossEntropy(Function):
    """loss = -(1/n) sum over counted rows r of log softmax(logits_r)[t_r].

    logits (..., C) float; targets (...) integers (an array, or a Tensor that needs no gradient: it
    gets none). Rows whose target equals ``ignore_index`` do not count; n is the number of rows that
    do. The forward flattens to (N, C) rows and saves p = softmax (N, C), the targets (N,) with
    ignored ones replaced by 0, the boolean mask ``valid`` (N,) and n.
    """

    @staticmethod
    def forward(ctx, logits, targets, ignore_index=-100):
        xp = get_array_module(logits)
        C = logits.shape[-1]
        z = logits.reshape(-1, C)
        t = xp.asarray(array_of(targets)).reshape(-1)
        valid = t != ignore_index
        safe_t = xp.where(valid, t, 0)
        logp = z - logsumexp(z, axis=-1)
        rows = xp.arange(z.shape[0])
        n = valid.sum()
        loss = -(logp[rows, safe_t] * valid).sum() / n
        ctx.save_for_backward(xp.exp(logp), safe_t, valid, n)
        ctx.shape = logits.shape
        return xp.asarray(loss, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dlogits,)`` of shape ``ctx.shape``; g is a 0-d array (dL/dloss).

        ``p, t, valid, n = ctx.saved_tensors``. Row r: g * (p_r - onehot(t_r)) / n for counted rows, zeros for
        ignored ones. Build it on the (N, C) rows, then reshape to ``ctx.shape``. Keep the dtype of p: divide by
        ``n.astype(p.dtype)``, not by the integer n.
        """
        xp = get_array_module(g)
        p, t, valid, n = ctx.saved_tensors
        d = p.copy()
        d[xp.arange(p.shape[0]), t] -= 1.0
        d *= (valid[:, None] * (g / n.astype(p.dtype))).astype(p.dtype)
        return (d.reshape(ctx.shape),)
