"""Ops with deliberately wrong backwards (and one correct control), shared by the tests that show
a gradient check can fail: test_planted_bugs.py and test_gradcheck_report.py.

Each has a correct forward and a backward with a typical mistake. Being defined outside npgpt,
these classes stay out of ``npgpt.gradcheck_cases.all_functions()``.
"""

import numpy as np

from npgpt.autograd import Function
from npgpt.ops.broadcast import unbroadcast


class MatMulNoTranspose(Function):
    """Z = A @ B with dA = dZ @ B (should be dZ @ B^T) and dB = A @ dZ (should be A^T @ dZ)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b, a @ g


class AddNoUnbroadcast(Function):
    """z = a + b returning g for both inputs: b (4,) broadcast to (3, 4) gets a (3, 4) gradient."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class AddMeanInsteadOfSum(Function):
    """z = a + b reducing the broadcast axes with a mean: right shape, wrong values."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g.mean(axis=0, keepdims=True).reshape(ctx.shape_b)


class AddSumWrongAxis(Function):
    """z = a + b for b (1, 4): sums over the wrong axis, then reshapes it to fit."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):  # g (4, 4): axis 1 summed instead of axis 0, shapes match by accident
        return g, g.sum(axis=1).reshape(ctx.shape_b)


class SquareMissingTwo(Function):
    """y = x^2 with dy/dx = x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)


class ExpOnlyForOnes(Function):
    """y = e^x with dx = y * sum(g) / n: exact when g is all ones (loss = y.sum()), wrong otherwise."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (y * (g.sum() / g.size),)


class SumOnlyForOnes(Function):
    """y = sum(x, axis=0) with dx = ones * mean(g): right for an all-ones g only."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(axis=0)

    @staticmethod
    def backward(ctx, g):
        return (np.full(ctx.shape, g.mean()),)


class SoftmaxNoSubtraction(Function):
    """y = softmax(x) with dx = y * g (missing '- sum(g * y)')."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (g * y,)


class LayerNormNoMeanTerm(Function):
    """y = (x - mean) / std with dx = rstd * (g - xhat * mean(g * xhat)) (missing '- mean(g)')."""

    @staticmethod
    def forward(ctx, x):
        xc = x - x.mean(axis=-1, keepdims=True)
        rstd = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + 1e-5)
        ctx.save_for_backward(xc * rstd, rstd)
        return xc * rstd

    @staticmethod
    def backward(ctx, g):
        xhat, rstd = ctx.saved_tensors
        return (rstd * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True)),)


class MulCorrect(Function):
    """A correct op, as a control: the same harness must pass it."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)


class OffByOneEntry(Function):
    """y = 3 x, whose backward is wrong at exactly one entry (``BAD``) by a factor 1 + ``err``."""

    BAD = (1, 2)
    err = 0.5

    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        d = 3 * g
        d[OffByOneEntry.BAD] *= 1 + OffByOneEntry.err
        return (d,)
