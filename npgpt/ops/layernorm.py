"""Layer normalization as one op with a hand-derived backward.

Over the last axis (C features) of x (..., C), with gain gamma (C,) and bias beta (C,):

    mu   = mean(x)                      (subtract the mean ...)
    var  = mean((x - mu)^2)             (... biased variance, as in the paper and PyTorch)
    rstd = 1 / sqrt(var + eps)          (eps inside the square root)
    xhat = (x - mu) * rstd
    y    = xhat * gamma + beta

Backward, with dxhat = g * gamma, and means taken over the C features:
### BEGIN SOLUTION 6.2

    dgamma = sum over rows of g * xhat,    dbeta = sum over rows of g
    dx     = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

Derivation: xhat depends on x directly and through mu and rstd. d mu/dx_j = 1/C removes the mean
of dxhat; d rstd/dx_j = -rstd^3 (x_j - mu)/C, which with rstd^2 (x_j - mu)^2 = xhat_j^2 gives the
last term. A constant row (var = 0) is fine: xhat = 0 and dx = rstd * (dxhat - mean(dxhat)).
### END SOLUTION 6.2
"""

from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis (see module docstring)."""

    @staticmethod
    def forward(ctx, x, gamma, beta=None, eps=1e-5):
        xp = get_array_module(x)
        C = x.shape[-1]
        if gamma.shape != (C,):
            raise ValueError(f"gamma has shape {tuple(gamma.shape)}, expected ({C},) for inputs with {C} features")
        ### BEGIN SOLUTION 6.1
        xc = x - x.mean(axis=-1, keepdims=True)
        var = (xc * xc).mean(axis=-1, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + eps)
        xhat = xc
        xhat *= rstd  # reuse xc's buffer: the centred input is not needed again
        ### END SOLUTION 6.1
        y = xhat * gamma
        if beta is not None:
            y += beta
        ctx.save_for_backward(xhat, rstd, gamma)
        ctx.has_beta = beta is not None
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, gamma = ctx.saved_tensors
        C = xhat.shape[-1]
        g2 = g.reshape(-1, C)
        xh2 = xhat.reshape(-1, C)
        dgamma = (g2 * xh2).sum(axis=0) if ctx.needs_input_grad[1] else None
        dbeta = g2.sum(axis=0) if ctx.has_beta and ctx.needs_input_grad[2] else None
        dx = None
        if ctx.needs_input_grad[0]:
            ### BEGIN SOLUTION 6.2
            dxhat = g * gamma
            a = dxhat.mean(axis=-1, keepdims=True)
            b = (dxhat * xhat).mean(axis=-1, keepdims=True)
            dx = dxhat
            dx -= a
            dx -= xhat * b
            dx *= rstd
            ### END SOLUTION 6.2
        return (dx, dgamma, dbeta) if ctx.has_beta else (dx, dgamma)
