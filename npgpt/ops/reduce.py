"""Reductions: sum, mean, var, max over an axis (or several, or all), with ``keepdims``.

The backward of a reduction spreads the output gradient back over the reduced axes.
### BEGIN SOLUTION 3.2
First ``_expand`` puts the reduced axes back as size 1, then broadcasting copies it to the input's
shape.
### END SOLUTION 3.2
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module


def normalize_axis(axis, ndim):
    """None -> all axes; int or tuple -> sorted tuple of non-negative axes (with range checks)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand(g, axes, keepdims):
    """``g``, a reduction's output gradient, with its reduced axes ``axes`` back as size-1 axes, so
    that it broadcasts over the input (``g`` as it is when ``keepdims`` kept them)."""
    ### BEGIN SOLUTION 3.2
    if keepdims or not axes:
        return g
    shape = list(g.shape)
    for a in axes:
        shape.insert(a, 1)
    return g.reshape(shape)
    ### END SOLUTION 3.2


class Sum(Function):
    """y = sum of x over ``axis``.
    ### BEGIN SOLUTION 3.2

    dy/dx = 1: every input element gets the output's gradient.
    ### END SOLUTION 3.2
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim)
        ctx.meta = x.shape, axes, keepdims
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdims = ctx.meta
        xp = get_array_module(g)
        ### BEGIN SOLUTION 3.2
        return (xp.broadcast_to(_expand(g, axes, keepdims), shape),)
        ### END SOLUTION 3.2


class Mean(Function):
    """y = sum(x) / n over ``axis`` (n = number of reduced elements).
    ### BEGIN SOLUTION 3.2

    dy/dx = 1/n.
    ### END SOLUTION 3.2
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim)
        n = 1
        for a in axes:
            n *= x.shape[a]
        ctx.meta = x.shape, axes, keepdims, n
        return x.mean(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdims, n = ctx.meta
        xp = get_array_module(g)
        ### BEGIN SOLUTION 3.2
        return (xp.broadcast_to(_expand(g, axes, keepdims) * (1.0 / n), shape),)
        ### END SOLUTION 3.2


class Var(Function):
    """y = sum((x - mean)^2) / (n - correction) over ``axis``.

    ``correction=0`` (the default, as NumPy and LayerNorm) is the biased variance; ``correction=1``
    is the unbiased estimator (PyTorch's default).  dy/dx_i = 2 (x_i - mean) / (n - correction)
    (the mean's own dependence on x_i cancels because the deviations sum to zero).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=0):
        axes = normalize_axis(axis, x.ndim)
        n = 1
        for a in axes:
            n *= x.shape[a]
        if n - correction <= 0:
            raise ValueError(f"var over {n} elements with correction={correction} divides by zero")
        xc = x - x.mean(axis=axes, keepdims=True)
        ctx.save_for_backward(xc)
        ctx.meta = axes, keepdims, n - correction
        return (xc * xc).sum(axis=axes, keepdims=keepdims) / (n - correction)

    @staticmethod
    def backward(ctx, g):
        (xc,) = ctx.saved_tensors
        axes, keepdims, denom = ctx.meta
        return (_expand(g, axes, keepdims) * (2.0 / denom) * xc,)


class Max(Function):
    """y = max of x over ``axis``.

    Ties share the gradient equally, as ``torch.amax`` does, so the result does not depend on
    element order.
    ### BEGIN SOLUTION 3.3

    dy/dx_i = 1 where x_i equals the max, else 0; each of k tied maxima gets g/k.
    ### END SOLUTION 3.3
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim)
        y = x.max(axis=axes, keepdims=True)
        mask = x == y
        ctx.save_for_backward(mask)
        ctx.meta = axes, keepdims
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        axes, keepdims = ctx.meta
        ### BEGIN SOLUTION 3.3
        count = mask.sum(axis=axes, keepdims=True).astype(g.dtype)
        return (_expand(g, axes, keepdims) * mask / count,)
        ### END SOLUTION 3.3
