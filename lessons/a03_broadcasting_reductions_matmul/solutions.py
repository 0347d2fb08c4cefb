"""Assignment 3, REFERENCE SOLUTIONS (instructors: delete this file from the student handout).

``exercises.py`` is this file with the bodies replaced by TODOs. The graders test this file by
default (``pytest lessons/a03_broadcasting_reductions_matmul``), which shows it is solvable.

Each ``forward`` is given and saves in ``ctx`` what the backward needs. A backward receives
g = dL/dy (y's shape) and returns one gradient per input, each of exactly that input's shape (npgpt
refuses anything else, naming the op). Take the array module from the arrays,
``xp = get_array_module(g)``, instead of writing ``np.``: the same code then runs on CuPy.

The three ideas:
- broadcasting copies an input along new leading axes and along its size-1 axes; each copy
  contributed to L, so the input's gradient is the *sum* over the copies (``unbroadcast``);
- a reduction's backward sends the output gradient back to every element that took part
  (sum: all of them, with weight 1; mean: all, with 1/n; max: only the maxima);
- matmul: for Z = A @ B with A (m, k), B (k, n): dA = dZ @ B^T (m, k) and dB = A^T @ dZ (k, n).
"""

from __future__ import annotations

from npgpt.autograd import Function
from npgpt.backend import get_array_module
from npgpt.ops.reduce import normalize_axis


def unbroadcast(grad, shape):
    """Sum ``grad`` (the shape of a broadcast result) back down to ``shape`` (an input's shape).

    NumPy aligns shapes on the right. With d = grad.ndim - len(shape):
    - the first d axes of grad were added by broadcasting: sum them away;
    - every other axis where ``shape`` has 1 but grad has more was stretched: sum it with
      ``keepdims=True`` so that the 1 stays.
    Return an array of exactly ``shape`` (``()`` for a scalar input). Examples:
    (2, 3, 4) -> (4,) sums axes 0 and 1;  (3, 5) -> (3, 1) sums axis 1 keeping it;  (2, 3) -> () sums all.
    """
    shape = tuple(shape)
    d = grad.ndim - len(shape)
    if d:
        grad = grad.sum(axis=tuple(range(d)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)  # () from a 0-d sum result stays (); otherwise already shape


class Mul(Function):
    """z = a * b with broadcasting.  dL/da = unbroadcast(g * b, a.shape), dL/db = unbroadcast(g * a, b.shape)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/da, dL/db)`` with the shapes of a and b (use your ``unbroadcast``)."""
        a, b = ctx.saved_tensors
        return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)


class Sum(Function):
    """y = x summed over ``axis`` (None: all axes; an int; or a tuple), keeping them as 1 if ``keepdims``.

    dy/dx_i = 1 for every element summed into y, so dL/dx = g copied back over the reduced axes.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = normalize_axis(axis, x.ndim)  # a sorted tuple of non-negative axes
        ctx.keepdims = keepdims
        ctx.in_shape = x.shape
        return x.sum(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)`` of shape ``ctx.in_shape``.

        Without keepdims the reduced axes are gone from g: put them back as size 1
        (``xp.expand_dims(g, ctx.axes)``), then ``xp.broadcast_to`` the input shape.
        """
        xp = get_array_module(g)
        if not ctx.keepdims:
            g = xp.expand_dims(g, ctx.axes)
        return (xp.broadcast_to(g, ctx.in_shape),)


class Mean(Function):
    """y = the mean of x over ``axis`` = sum / n, n the number of elements reduced into each y.

    dL/dx = g / n copied back over the reduced axes.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = normalize_axis(axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.in_shape = x.shape
        return x.mean(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)``; n is the product of ``ctx.in_shape`` over ``ctx.axes``."""
        xp = get_array_module(g)
        n = 1
        for a in ctx.axes:
            n *= ctx.in_shape[a]
        if not ctx.keepdims:
            g = xp.expand_dims(g, ctx.axes)
        return (xp.broadcast_to(g / n, ctx.in_shape),)


class Max(Function):
    """y = the max of x over ``axis``.

    dy/dx_i = 1 where x_i is the maximum and 0 elsewhere. When k elements tie for the maximum,
    each gets g / k (as torch.amax does), so the gradient does not depend on element order and the
    total still sums to g.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim)
        y = x.max(axis=axes, keepdims=True)
        ctx.save_for_backward(x == y)  # the mask of maxima, x's shape
        ctx.axes, ctx.keepdims = axes, keepdims
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)``: g expanded back (as in Sum), times the mask, divided by the number of
        maxima in each reduced group (``mask.sum(axis=ctx.axes, keepdims=True)``)."""
        xp = get_array_module(g)
        (mask,) = ctx.saved_tensors
        if not ctx.keepdims:
            g = xp.expand_dims(g, ctx.axes)
        count = mask.sum(axis=ctx.axes, keepdims=True).astype(g.dtype)
        return (g * mask / count,)


class MatMul(Function):
    """Z = A @ B for A (..., m, k) and B (..., k, n), both at least 2-D; the batch axes ``...``
    broadcast as in ``numpy.matmul``.

    Per matrix: dA = dZ @ B^T (m, k), dB = A^T @ dZ (k, n); ``^T`` swaps the last two axes
    (``x.swapaxes(-1, -2)``). With batch axes the products are batched too, and an input whose batch
    axes were broadcast (e.g. a weight B (k, n) shared by every A in a batch) gets the sum over the
    batch: ``unbroadcast`` the result to its shape.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("this assignment's MatMul takes inputs with at least 2 dimensions")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dA, dL/dB)`` with the shapes of A and B."""
        a, b = ctx.saved_tensors
        da = g @ b.swapaxes(-1, -2)
        db = a.swapaxes(-1, -2) @ g
        return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
