"""Matrix products: ``matmul`` (batched, with NumPy's 1-D rules) and the fused ``linear``."""

from __future__ import annotations

from ..autograd import Function
from .broadcast import unbroadcast


class MatMul(Function):
    """Z = A @ B, batched over leading axes (which broadcast), as ``numpy.matmul``.
    ### BEGIN SOLUTION 3.4

    For matrices A (m, k), B (k, n), Z (m, n):  dA = dZ @ B^T  (m, k),  dB = A^T @ dZ  (k, n).
    A 1-D A is a row vector (1, k) and a 1-D B a column vector (k, 1); the axis that adds is
    dropped from Z, so it is put back on dZ before the formulas above apply.
    ### END SOLUTION 3.4
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D inputs, use * for scalars")
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(f"inner dimensions differ: {tuple(a.shape)} @ {tuple(b.shape)}")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ### BEGIN SOLUTION 3.4
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = g[..., None, :] if b.ndim > 1 else g[..., None]
        if b.ndim == 1:
            g = g[..., None]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # a weight shared by a batch: fold the batch into one product instead of
                # making a (batch, k, n) stack of products and summing it
                gb = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                gb = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape)
            gb = gb.reshape(b.shape)
        ### END SOLUTION 3.4
        return ga, gb


class Linear(Function):
    """y = x @ W^T + b, the affine map of ``nn.Linear`` as one op.

    Shapes: x (..., in), W (out, in) (PyTorch's layout), b (out,) or absent, y (..., out).
    One op instead of matmul + transpose + add saves a pass over y and a graph node or two.
    ### BEGIN SOLUTION 3.4

    With X = x flattened to (N, in) and G = dy flattened to (N, out):
    dx = G @ W  (N, in),  dW = G^T @ X  (out, in),  db = sum of G over N  (out,).
    ### END SOLUTION 3.4
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"input has {x.shape[-1]} features but the weight {tuple(w.shape)} expects {w.shape[1]}")
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        # one (N, in) @ (in, out) product instead of a batch of smaller ones: BLAS runs it faster
        y = x.reshape(-1, x.shape[-1]) @ w.T
        if b is not None:
            y += b
        return y.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        ### BEGIN SOLUTION 3.4
        gx = (g2 @ w).reshape(x.shape) if ctx.needs_input_grad[0] else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])) if ctx.needs_input_grad[1] else None
        ### END SOLUTION 3.4
        if not ctx.has_bias:
            return gx, gw
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb
