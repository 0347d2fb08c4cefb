"""Assignment 7, REFERENCE SOLUTIONS (instructors: delete this file from the student handout).

``exercises.py`` is this file with the bodies replaced by TODOs. The graders test this file by
default (``pytest lessons/a07_attention``), which shows it is solvable.

Scaled dot-product attention for q (B, H, Tq, D), k and v (B, H, Tk, D), with s = 1/sqrt(D):

    S = q @ k^T * s               (B, H, Tq, Tk)  scores
    S[i, j] = -inf where masked   causal: key j lies in the future of query i
    P = softmax(S, axis=-1)       each row sums to 1; masked entries are exactly 0
    O = P @ v                     (B, H, Tq, D)

and its backward, given dO (``g``), one line of the forward at a time:

    dv = P^T @ dO                 dP = dO @ v^T
    dS = P * (dP - sum(dP * P, axis=-1, keepdims=True))     softmax backward, row by row
    dq = dS @ k * s               dk = dS^T @ q * s

``^T`` swaps the last two axes (``a.swapaxes(-1, -2)``). When Tq < Tk (new queries against cached
keys, as in generation) the queries are the *last* Tq positions: query i sits at absolute position
i + (Tk - Tq) and sees keys 0 .. i + (Tk - Tq).

Part 1, ``causal_mask``. Part 2, ``softmax_backward``. Part 3, ``ScaledDotProductAttention.backward``
(the forward is given). Take the array module from the arrays (``xp = get_array_module(g)``).
"""

from __future__ import annotations

import math

import numpy as np

from npgpt.autograd import Function
from npgpt.backend import get_array_module


# ============================================================================ Part 1: the mask
def causal_mask(Tq, Tk):
    """A NumPy bool array (Tq, Tk), True where key j is in the future of query i: j > i + (Tk - Tq).

    Tq == Tk: the strict upper triangle (the diagonal is *not* masked: a token sees itself).
    Example, Tq = 2, Tk = 4: [[F, F, F, T], [F, F, F, F]].
    """
    return np.triu(np.ones((Tq, Tk), dtype=bool), k=1 + Tk - Tq)


# ============================================================================ Part 2: softmax backward
def softmax_backward(p, dp):
    """dS for P = softmax(S, axis=-1), given P and dP = dL/dP (same shape, any leading axes).

    dS = P * (dP - sum(dP * P, axis=-1, keepdims=True)): the vector-Jacobian product of
    dP_i/dS_j = P_i (delta_ij - P_j), row by row (notebook 04).
    """
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


# ============================================================================ Part 3: attention
class ScaledDotProductAttention(Function):
    """softmax(q k^T / sqrt(D) + mask) @ v: ``ScaledDotProductAttention.apply(q, k, v, causal=True)``."""

    @staticmethod
    def forward(ctx, q, k, v, causal=True):
        xp = get_array_module(q)
        Tq, Tk = q.shape[-2], k.shape[-2]
        scale = 1.0 / math.sqrt(q.shape[-1])
        s = (q @ k.swapaxes(-1, -2)) * scale
        if causal:
            s = xp.where(xp.asarray(causal_mask(Tq, Tk)), -xp.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        p = xp.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(q, k, v, p)
        ctx.scale = scale
        return p @ v

    @staticmethod
    def backward(ctx, g):
        """Return ``(dq, dk, dv)``, each of its input's shape, from ``q, k, v, p = ctx.saved_tensors``,
        ``ctx.scale`` (= 1/sqrt(D)) and g = dL/dO (B, H, Tq, D). Use your ``softmax_backward``.
        """
        q, k, v, p = ctx.saved_tensors
        dv = p.swapaxes(-1, -2) @ g
        ds = softmax_backward(p, g @ v.swapaxes(-1, -2))
        dq = (ds @ k) * ctx.scale
        dk = (ds.swapaxes(-1, -2) @ q) * ctx.scale
        return dq, dk, dv
