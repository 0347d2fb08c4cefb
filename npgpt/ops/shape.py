"""Ops that move values around without arithmetic: reshape, transpose, indexing, concat, stack,
and copies to another dtype or device. Their backward moves the gradient back the same way.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import device_of, get_array_module, to_device


class Reshape(Function):
    """y = x viewed with a new shape (same elements, row-major order).  dx = dy reshaped back."""

    allow_int = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.in_shape),)


class Transpose(Function):
    """y = x with its axes permuted by ``axes`` (reversed when None).  dx = dy permuted back."""

    allow_int = True

    @staticmethod
    def forward(ctx, x, axes=None):
        axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of {x.ndim} dimensions")
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(tuple(np.argsort(ctx.axes))),)


def _is_advanced(index):
    """True when the index holds an array or list (NumPy's advanced indexing), not only basic items."""
    items = index if isinstance(index, tuple) else (index,)
    return any(not isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    """y = x[index] (basic slicing or integer/boolean array indexing).

    dx = zeros with dy scattered to where each element came from. With array indexing the same
    element may be picked several times, so the scatter *adds* (``add.at``) instead of assigning.
    """

    allow_int = True

    @staticmethod
    def forward(ctx, x, index):
        ctx.save_for_backward(index)  # the index may hold arrays
        ctx.shape, ctx.advanced = x.shape, _is_advanced(index)
        try:
            return x[index]
        except IndexError as e:
            raise ValueError(f"index {index!r}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        xp = get_array_module(g)
        dx = xp.zeros(ctx.shape, dtype=g.dtype)
        if ctx.advanced:
            xp.add.at(dx, index, g)
        else:
            dx[index] = g
        return (dx,)


class Concat(Function):
    """y = the inputs joined along ``axis``.  Each input's gradient is its slice of dy."""

    allow_int = True

    @staticmethod
    def forward(ctx, *xs, axis=0):
        xp = get_array_module(xs[0])
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        parts = xp.split(g, np.cumsum(ctx.sizes)[:-1].tolist(), axis=ctx.axis)
        return tuple(part if need else None for part, need in zip(parts, ctx.needs_input_grad))


class Stack(Function):
    """y = the inputs (all one shape) stacked along a new ``axis``.  Gradient i = dy taken at i."""

    allow_int = True

    @staticmethod
    def forward(ctx, *xs, axis=0):
        xp = get_array_module(xs[0])
        out = xp.stack(xs, axis=axis)
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        return tuple(xp.take(g, i, axis=ctx.axis) if need else None for i, need in enumerate(ctx.needs_input_grad))


class ToDtype(Function):
    """y = x converted to ``dtype``.  dx = dy converted back to x's dtype."""

    allow_int = True

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return (g.astype(ctx.in_dtype),)


class ToDevice(Function):
    """y = x copied to ``device`` ("cpu": a NumPy array, "cuda": a CuPy array); x's device is kept
    in ``ctx.in_device`` for the backward.

    ### BEGIN SOLUTION 16.1
    A copy changes where the numbers live, not their values: dy/dx is the identity, so
    dx = dy copied back to x's device.
    ### END SOLUTION 16.1
    """

    allow_int = True

    @staticmethod
    def forward(ctx, x, device):
        ### BEGIN SOLUTION 16.1
        ctx.in_device = device_of(x)
        return to_device(x, device)
        ### END SOLUTION 16.1

    @staticmethod
    def backward(ctx, g):
        ### BEGIN SOLUTION 16.1
        return (to_device(g, ctx.in_device),)
        ### END SOLUTION 16.1
