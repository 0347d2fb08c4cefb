"""Assignment 5: layer normalization.  (Notebook: 05_layer_normalization.ipynb)

Fill in every body that raises ``NotImplementedError("TODO ...")``; the docstring above it gives the
math. Grade your work with

    pytest lessons/a05_layernorm --lesson-impl=exercises

LayerNorm over the last axis (C features) of x (..., C), with gain gamma (C,) and bias beta (C,):

    mu   = mean(x)                   subtract the mean ...
    var  = mean((x - mu)^2)          ... biased variance: divide by C, not C - 1
    rstd = 1 / sqrt(var + eps)       eps INSIDE the square root
    xhat = (x - mu) * rstd
    y    = xhat * gamma + beta

(Dropping the mean subtraction gives RMSNorm, a different layer; eps outside the root or the
unbiased variance give different numbers. The grader compares with npgpt's ``F.layer_norm``.)

Part 1, ``normalize``: the forward's first four lines. Part 2, ``LayerNorm.backward``. With
ghat = g * gamma and means over the C features of each row:

    dgamma = sum over all rows of g * xhat        dbeta = sum over all rows of g
    dx     = rstd * (ghat - mean(ghat) - xhat * mean(ghat * xhat))

Take the array module from the arrays, ``xp = get_array_module(x)``, instead of writing ``np.``.
"""

from __future__ import annotations

from npgpt.autograd import Function
from npgpt.backend import get_array_module  # noqa: F401  (you will need it)


# ============================================================================ Part 1: the forward
def normalize(x, eps=1e-5):
    """Return ``(xhat, rstd)`` for x (..., C): xhat (..., C) and rstd (..., 1).

    mu = mean(x, -1), var = mean((x - mu)^2, -1) (both keepdims), rstd = 1 / sqrt(var + eps),
    xhat = (x - mu) * rstd. A constant row has var = 0: eps keeps rstd finite and xhat is 0.
    """
    raise NotImplementedError(
        "TODO: mu, biased var over the last axis (keepdims); rstd = 1/sqrt(var + eps); return ((x - mu) * rstd, rstd)"
    )


# ============================================================================ Part 2: the backward
class LayerNorm(Function):
    """y = normalize(x) * gamma (+ beta): ``LayerNorm.apply(x, gamma, beta, eps=1e-5)`` or, without a
    bias, ``LayerNorm.apply(x, gamma, eps=1e-5)``."""

    @staticmethod
    def forward(ctx, x, gamma, beta=None, eps=1e-5):
        C = x.shape[-1]
        if gamma.shape != (C,):
            raise ValueError(f"gamma has shape {tuple(gamma.shape)}, expected ({C},)")
        xhat, rstd = normalize(x, eps)
        ctx.save_for_backward(xhat, rstd, gamma)
        ctx.has_beta = beta is not None
        y = xhat * gamma
        return y + beta if beta is not None else y

    @staticmethod
    def backward(ctx, g):
        """Return ``(dx, dgamma, dbeta)``, or ``(dx, dgamma)`` when there is no bias (``ctx.has_beta``).

        ``xhat, rstd, gamma = ctx.saved_tensors``; g and xhat are (..., C) with any number of leading axes.
        dgamma and dbeta (C,) sum over *all* leading axes (reshape to (-1, C) and sum axis 0).
        dx = rstd * (ghat - mean(ghat) - xhat * mean(ghat * xhat)) with ghat = g * gamma and the
        means over the last axis, keepdims.
        """
        raise NotImplementedError(
            "TODO: dx = rstd * (ghat - mean(ghat) - xhat * mean(ghat * xhat)); dgamma, dbeta summed over all rows"
        )
