"""Elementwise ops: arithmetic with NumPy broadcasting, and the unary functions.

Each backward multiplies the upstream gradient ``g`` by the local derivative, then ``unbroadcast``
sums it back to the input's shape (the gradient of a broadcast copy is the sum over the copies).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from .broadcast import unbroadcast


class Add(Function):
    """z = a + b.  dz/da = 1, dz/db = 1 (then summed over broadcast axes)."""

    allow_int = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = unbroadcast(g, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Sub(Function):
    """z = a - b.  dz/da = 1, dz/db = -1."""

    allow_int = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = unbroadcast(g, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-g, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    """z = a * b.

    ### BEGIN SOLUTION 1.3
    dz/da = b, dz/db = a.
    ### END SOLUTION 1.3
    """

    allow_int = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION 1.3
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        ### END SOLUTION 1.3
        # an input that was broadcast gets the sum over its copies (assignment 3)
        ga = unbroadcast(ga, a.shape) if ga is not None else None
        gb = unbroadcast(gb, b.shape) if gb is not None else None
        return ga, gb


class Div(Function):
    """z = a / b.

    ### BEGIN SOLUTION 1.3
    dz/da = 1/b, dz/db = -a/b^2 = -z/b.
    ### END SOLUTION 1.3
    """

    @staticmethod
    def forward(ctx, a, b):
        z = a / b
        ctx.save_for_backward(b, z)
        ctx.shape_a = a.shape
        return z

    @staticmethod
    def backward(ctx, g):
        b, z = ctx.saved_tensors
        ### BEGIN SOLUTION 1.3
        g_over_b = g / b
        ga = g_over_b if ctx.needs_input_grad[0] else None
        gb = -g_over_b * z if ctx.needs_input_grad[1] else None
        ### END SOLUTION 1.3
        ga = unbroadcast(ga, ctx.shape_a) if ga is not None else None
        gb = unbroadcast(gb, b.shape) if gb is not None else None
        return ga, gb


class Pow(Function):
    """z = a ** b.  dz/da = b a^(b-1), dz/db = a^b log(a) (needs a > 0 where b's grad is wanted).

    A Python number exponent is passed as ``exponent`` and gets no gradient.
    """

    @staticmethod
    def forward(ctx, a, b=None, exponent=None):
        if b is None:
            ctx.exponent = exponent
            ctx.save_for_backward(a)
            return a**exponent
        z = a**b
        ctx.exponent = None
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, g):
        if ctx.exponent is not None:
            (a,) = ctx.saved_tensors
            p = ctx.exponent
            return (g * (p * a ** (p - 1)),)
        a, b, z = ctx.saved_tensors
        xp = get_array_module(a)
        ga = unbroadcast(g * b * a ** (b - 1), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * z * xp.log(a), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """z = -a.  dz/da = -1."""

    allow_int = True

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class Exp(Function):
    """y = e^x (y is saved, so the backward costs one multiply).

    ### BEGIN SOLUTION 1.4
    dy/dx = e^x = y.
    ### END SOLUTION 1.4
    """

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ### BEGIN SOLUTION 1.4
        dx = g * y
        ### END SOLUTION 1.4
        return (dx,)


class Log(Function):
    """y = ln x.  dy/dx = 1/x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g / x,)


class Sqrt(Function):
    """y = sqrt(x).  dy/dx = 1 / (2 sqrt(x)) = 0.5 / y."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (g * 0.5 / y,)


class Tanh(Function):
    """y = tanh x.

    ### BEGIN SOLUTION 1.4
    dy/dx = 1 - y^2.
    ### END SOLUTION 1.4
    """

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ### BEGIN SOLUTION 1.4
        dx = g * (1 - y * y)
        ### END SOLUTION 1.4
        return (dx,)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).  dy/dx = y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        # 0.5 * (1 + tanh(x/2)) is the same function and never overflows in exp
        y = 0.5 * (1 + xp.tanh(0.5 * x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (g * y * (1 - y),)


class ReLU(Function):
    """y = max(x, 0).  dy/dx = 1 where x > 0, else 0 (0 at the kink, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return (g * mask,)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELU(Function):
    """Gaussian Error Linear Unit, y = x Phi(x).

    ``approximate="tanh"`` (GPT-2's form): y = x s with s = 0.5 (1 + tanh(u)),
    u = c (x + 0.044715 x^3), c = sqrt(2/pi). Since dt/du = 1 - t^2 = 4 s (1 - s),
    dy/dx = s + x s'(x) = s + 2 x u'(x) s (1 - s) = s (1 + 2 x u'(x) (1 - s)),
    u'(x) = c (1 + 3*0.044715 x^2).
    The forward saves s (B, T, 4C) next to x: the backward then needs no second tanh and makes
    9 array passes instead of 16 (the forward makes 8), for one more activation kept alive.

    ``approximate="none"`` (exact): y = 0.5 x (1 + erf(x / sqrt 2));
    dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
    """

    @staticmethod
    def forward(ctx, x, approximate="tanh"):
        xp = get_array_module(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            # s = 0.5 (1 + tanh(x (c + c k x^2))), built in place in one new buffer
            s = x * x
            s *= _SQRT_2_OVER_PI * 0.044715
            s += _SQRT_2_OVER_PI
            s *= x
            xp.tanh(s, out=s)
            s += 1.0
            s *= 0.5
            ctx.save_for_backward(x, s)
            return x * s
        if approximate != "none":
            raise ValueError(f"approximate must be 'tanh' or 'none', got {approximate!r}")
        cdf = 0.5 * (1.0 + _erf(xp, x / math.sqrt(2.0)))
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        if ctx.approximate == "tanh":
            x, s = ctx.saved_tensors  # read only: a retained graph may run backward again
            # d = 2 x u'(x) = x (2c + 6ck x^2)
            d = x * x
            d *= 6 * 0.044715 * _SQRT_2_OVER_PI
            d += 2 * _SQRT_2_OVER_PI
            d *= x
            # dy/dx = s (1 + d (1 - s))
            d *= xp.subtract(1.0, s, dtype=s.dtype)
            d += 1.0
            d *= s
            d *= g
            return (d,)
        x, cdf = ctx.saved_tensors
        pdf = xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return (g * (cdf + x * pdf),)


def _erf(xp, x):
    """erf for NumPy (via math.erf, vectorised) or CuPy (cupyx.scipy.special.erf)."""
    if xp is np:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    from cupyx.scipy.special import erf

    return erf(x)
