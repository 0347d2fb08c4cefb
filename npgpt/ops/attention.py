"""Scaled dot-product attention as one op with a hand-written backward.

Shapes: q (B, H, Tq, D), k and v (B, H, Tk, D), output (B, H, Tq, D). With s = 1/sqrt(D):

    S = q @ k^T * s                 (B, H, Tq, Tk)  scores
    S = S + mask                    -inf where query i may not see key j (causal: j after i)
    P = softmax(S, axis=-1)         attention weights, each row sums to 1
    A = P * M / (1 - dropout_p)     dropout on the weights (training only; M ~ Bernoulli(1 - dropout_p))
    O = A @ v

Backward, given dO:

### BEGIN SOLUTION 7.3
    dv = A^T @ dO
    dA = dO @ v^T ;  dP = dA * M / (1 - dropout_p)
    dS = P * (dP - sum(dP * P, axis=-1))       (softmax backward)
    dq = dS @ k * s ;  dk = dS^T @ q * s
### END SOLUTION 7.3

When Tq < Tk (new queries appended to a cached past, as in generation), the causal mask is
offset so query i sits at absolute position Tk - Tq + i and sees keys 0 .. Tk - Tq + i.
The composed version of the same computation (built from primitive autograd ops) lives in
``npgpt.nn.attention``; tests hold the two equal.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Context, Function
from ..backend import get_array_module
from .dropout import dropout_mask

_CACHE: dict = {}


def _cached(key, make):
    value = _CACHE.get(key)
    if value is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        value = _CACHE[key] = make()
    return value


def causal_mask(Tq, Tk):
    """Boolean (Tq, Tk) NumPy mask, True where key j is in the future of query i.

    The queries are the last Tq of the Tk positions (the earlier Tk - Tq came from a cache), so
    query i sits at absolute position i + (Tk - Tq); a query sees its own key. Cached per shape.
    ### BEGIN SOLUTION 7.1
    Masked: j > i + (Tk - Tq), the strict upper triangle shifted right by Tk - Tq (np.triu).
    ### END SOLUTION 7.1
    """

    def build():
        ### BEGIN SOLUTION 7.1
        return np.triu(np.ones((Tq, Tk), dtype=bool), k=1 + Tk - Tq)
        ### END SOLUTION 7.1

    return _cached(("mask", Tq, Tk), build)


def causal_bias(xp, Tq, Tk, dtype):
    """The same mask as an additive (Tq, Tk) array of module ``xp``: -inf where masked, else 0."""
    return _cached(
        (xp.__name__, Tq, Tk, np.dtype(dtype).str),
        lambda: xp.asarray(np.where(causal_mask(Tq, Tk), -np.inf, 0.0).astype(dtype)),
    )


def softmax_backward(p, dp, rowsum=None):
    """dS = dL/dS for P = softmax(S, axis=-1), from P and dP = dL/dP (same shape, any leading axes).

    ``rowsum`` (..., 1), when given, is sum_j dP_ij P_ij, computed more cheaply by the caller.
    Works in place: overwrites and returns ``dp`` (the caller no longer needs it).
    ### BEGIN SOLUTION 7.2
    dS = P * (dP - rowsum): row by row, the vector-Jacobian product of dP_i/dS_j = P_i (delta_ij - P_j).
    ### END SOLUTION 7.2
    """
    ### BEGIN SOLUTION 7.2
    if rowsum is None:
        rowsum = (dp * p).sum(axis=-1, keepdims=True)
    dp -= rowsum
    dp *= p
    return dp
    ### END SOLUTION 7.2


class ScaledDotProductAttention(Function):
    """softmax(q k^T / sqrt(D) + causal mask) (with dropout) @ v; see the module docstring.

    Memory: the (B, H, Tq, Tk) weights P are the largest activation of a transformer, so they are
    not kept for the backward pass. The forward saves the row log-sum-exp L = m + log(sum exp(S - m))
    instead, and the backward rebuilds P = exp(S - L) with one matmul (as FlashAttention does).
    The softmax-backward row sums are computed from a (B, H, Tq, D) product instead of a
    (B, H, Tq, Tk) one:
    ### BEGIN SOLUTION 7.3
    sum_j dP_ij P_ij = sum_d dO_id O_id (with dropout too: both equal sum_j dA_ij A_ij).
    ### END SOLUTION 7.3
    """

    @staticmethod
    def _scores(xp, q, k, scale, causal):
        """S = q k^T * scale (+ causal mask): a new (B, H, Tq, Tk) array."""
        s = q @ k.swapaxes(-1, -2)
        s *= scale
        if causal:
            s += causal_bias(xp, q.shape[2], k.shape[2], s.dtype)
        return s

    @staticmethod
    def forward(ctx, q, k, v, causal=True, dropout_p=0.0, rng=None):
        xp = get_array_module(q)
        if q.ndim != 4 or k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
            raise ValueError(
                f"expected q (B, H, Tq, D) and k, v (B, H, Tk, D), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
            )
        Tq, Tk = q.shape[2], k.shape[2]
        if causal and Tq > Tk:
            raise ValueError(f"causal attention needs Tq <= Tk, got Tq={Tq}, Tk={Tk}")
        scale = 1.0 / math.sqrt(q.shape[-1])
        s = ScaledDotProductAttention._scores(xp, q, k, scale, causal)
        lse = s.max(axis=-1, keepdims=True)
        s -= lse
        p = xp.exp(s, out=s)
        total = p.sum(axis=-1, keepdims=True)
        p /= total
        lse += xp.log(total)
        m = None
        if dropout_p > 0.0:
            m = dropout_mask(xp, p.shape, dropout_p, rng, p.dtype)
            p *= m  # A = P * M, the weights actually used
        out = p @ v
        ctx.save_for_backward(q, k, v, lse, m, out)
        ctx.scale, ctx.causal = scale, causal
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v, lse, m, out = ctx.saved_tensors
        xp = get_array_module(g)
        ### BEGIN SOLUTION 7.3
        # rebuild P = exp(S - L) from q, k and the saved log-sum-exp
        p = ScaledDotProductAttention._scores(xp, q, k, ctx.scale, ctx.causal)
        p -= lse
        xp.exp(p, out=p)
        a = p * m if m is not None else p
        dv = a.swapaxes(-1, -2) @ g if ctx.needs_input_grad[2] else None
        del a
        dp = g @ v.swapaxes(-1, -2)
        if m is not None:
            dp *= m
        # softmax backward, in place on dp, with the row sums rowsum(dO * O)
        ds = softmax_backward(p, dp, (g * out).sum(axis=-1, keepdims=True))
        ds *= ctx.scale
        dq = ds @ k if ctx.needs_input_grad[0] else None
        dk = ds.swapaxes(-1, -2) @ q if ctx.needs_input_grad[1] else None
        return dq, dk, dv
        ### END SOLUTION 7.3


class QKVAttention(Function):
    """The middle of a GPT attention layer as one op: heads split from qkv, causal attention, heads merged.

    qkv (B, T, 3C) is the fused projection's output: q, k, v side by side, each C = H * hs wide.

        q, k, v = split_heads(qkv)          3 x (B, H, T, hs)   views of qkv, no copy
        O = ScaledDotProductAttention(q, k, v, causal)          (B, H, T, hs)
        y = merge_heads(O)                  (B, T, C)           the heads side by side again

    Backward: dO = dy split into heads; ``ScaledDotProductAttention.backward`` gives dq, dk, dv,
    written straight into their places in one dqkv (B, T, 3C). The same computation composed
    from reshape, transpose and three indexings (``nn.CausalSelfAttention`` with RoPE or a KV
    cache) builds a zero-filled (B, T, 3C) gradient per indexing, sums the three and copies the
    sum back through the transpose: seven passes over qkv's size where this makes one.
    """

    @staticmethod
    def forward(ctx, qkv, n_head, dropout_p=0.0, rng=None):
        B, T, C3 = qkv.shape
        if C3 % (3 * n_head):
            raise ValueError(f"qkv's last axis ({C3}) is not 3 * n_head ({n_head}) * head size")
        heads = qkv.reshape(B, T, 3, n_head, C3 // (3 * n_head)).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, hs)
        # the attention op's own context, kept in saved_tensors so the walk frees it after use
        inner = Context()
        inner.needs_input_grad = (True, True, True)
        out = ScaledDotProductAttention.forward(inner, heads[0], heads[1], heads[2], True, dropout_p, rng)
        ctx.save_for_backward(inner)
        return out.transpose(0, 2, 1, 3).reshape(B, T, C3 // 3)  # (B, T, H, hs) -> (B, T, C)

    @staticmethod
    def backward(ctx, g):
        (inner,) = ctx.saved_tensors
        q = inner.saved_tensors[0]
        B, H, T, hs = q.shape
        dq, dk, dv = ScaledDotProductAttention.backward(inner, g.reshape(B, T, H, hs).transpose(0, 2, 1, 3))
        dqkv = get_array_module(g).empty((B, T, 3, H, hs), dtype=g.dtype)
        heads = dqkv.transpose(2, 0, 3, 1, 4)  # (3, B, H, T, hs), a view of dqkv
        heads[0], heads[1], heads[2] = dq, dk, dv
        return (dqkv.reshape(B, T, 3 * H * hs),)
