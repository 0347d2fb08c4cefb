"""Causal self-attention: each position mixes the values of the positions before it.

For x (B, T, C) with H heads of size hs = C / H:

    q, k, v = split(x @ W_attn^T + b_attn)            3 x (B, T, C)   one fused projection
    q, k, v -> (B, H, T, hs)                          split C into H heads
    (RoPE: q, k rotated by position)
    S = q @ k^T / sqrt(hs)                            (B, H, T, T)    scores
    S[i, j] = -inf for j > i                          causal mask: no peeking at the future
    P = dropout(softmax(S, axis=-1))                  attention weights
    y = P @ v                                         (B, H, T, hs)
    y -> (B, T, C); out = dropout(y @ W_proj^T + b_proj)

Two implementations of the middle part that agree to rounding: ``attention_composed`` from
primitive autograd ops (readable: one line per formula) and the fused
``F.scaled_dot_product_attention`` (one op with a hand-written backward, faster, less memory).

KV cache (generation). When a model generates one token at a time, the keys and values of the
earlier tokens do not change, so they are kept instead of recomputed. ``forward(x, cache)`` with
a ``KVCache`` appends this call's k, v (B, H, T_new, hs) to it and lets the T_new queries attend to
all T_past + T_new keys; the causal mask is offset so query i (absolute position T_past + i)
sees keys 0 .. T_past + i.

Looking inside (``npgpt serve``). With ``record_attention = True`` (off by default: it costs one
extra q k^T row per head) a layer keeps ``last_attention``, the weights (B, H, Tk) of its LAST
query over every key, computed from the same q and k as the forward. That is the row a generation
step uses to pick the next token.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import is_grad_enabled
from ..backend import as_generator, get_array_module
from ..ops.attention import causal_mask
from ..tensor import Tensor
from .layers import Dropout, Linear
from .module import Module
from .positional import RotaryEmbedding


def attention_composed(q, k, v, causal=True, dropout_p=0.0, rng=None):
    """softmax(q k^T / sqrt(hs) + causal mask) (dropout) @ v from primitive ops.

    q (B, H, Tq, hs), k and v (B, H, Tk, hs) with Tq <= Tk -> (B, H, Tq, hs). Same contract as
    ``F.scaled_dot_product_attention``, which the tests hold it equal to.
    """
    hs = q.shape[-1]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, H, Tq, Tk)
    if causal:
        Tq, Tk = q.shape[-2], k.shape[-2]
        if Tq > Tk:
            raise ValueError(f"attention_composed: causal attention needs Tq <= Tk, got Tq={Tq}, Tk={Tk}")
        mask = get_array_module(att.data).asarray(causal_mask(Tq, Tk))
        att = att.masked_fill(mask, -np.inf)  # exp(-inf) = 0: future keys get zero weight
    att = att.softmax(axis=-1)
    att = F.dropout(att, dropout_p, training=dropout_p > 0.0, rng=rng)
    return att @ v


def last_query_attention(q, k):
    """softmax(q[-1] k^T / sqrt(hs)): the attention weights (B, H, Tk) of the last query.

    q (B, H, Tq, hs), k (B, H, Tk, hs) arrays. The last query is the newest position, so the
    causal mask hides no key from it. Float64, for display.
    """
    xp = get_array_module(q)
    s = (q[:, :, -1:].astype(np.float64) @ k.astype(np.float64).swapaxes(-2, -1))[:, :, 0]
    s = s / math.sqrt(q.shape[-1])  # (B, H, Tk)
    e = xp.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class KVCache:
    """The keys and values one attention layer has seen so far: ``k``, ``v`` (B, H, length, hs).

    ``append(k_new, v_new)`` adds (B, H, T_new, hs) and returns the whole (k, v) as Tensors.
    Under ``no_grad`` (generation) the arrays go into a preallocated buffer of ``max_len``
    positions (grown by doubling if exceeded), so a step copies only its own T_new entries;
    with gradients on, they are concatenated (differentiable). ``length`` is the number of
    positions held; ``reset()`` empties it; ``crop(n)`` keeps the first n.
    """

    def __init__(self, max_len=None):
        self.max_len = max_len
        self.reset()

    def reset(self):
        self._k = self._v = None  # Tensors (concat mode) or buffers (buffer mode)
        self._buffered = False
        self.length = 0

    def __len__(self):
        return self.length

    def _held(self, a):
        if a is None or not self._buffered:
            return a
        return Tensor._make(a[:, :, : self.length], False)  # a view of the filled part of the buffer

    @property
    def k(self):
        """Cached keys (B, H, length, hs) as a Tensor, or None when empty."""
        return self._held(self._k)

    @property
    def v(self):
        """Cached values (B, H, length, hs) as a Tensor, or None when empty."""
        return self._held(self._v)

    def crop(self, n):
        """Forget every position from n on (e.g. to roll back a speculative step)."""
        if not 0 <= n <= self.length:
            raise ValueError(f"KVCache.crop: n={n} outside [0, {self.length}]")
        if not self._buffered and self._k is not None:
            self._k, self._v = self._k[:, :, :n], self._v[:, :, :n]
        self.length = n

    def append(self, k, v):
        """Add k, v (B, H, T_new, hs); return all cached (k, v), each (B, H, length, hs)."""
        if self._k is not None and (k.shape[:2] != self._kshape[:2] or k.shape[3] != self._kshape[3]):
            raise ValueError(f"KVCache.append: new keys {k.shape} do not match cached (B, H, *, hs) = {self._kshape}")
        self._kshape = k.shape
        use_buffer = not (is_grad_enabled() and (k.requires_grad or v.requires_grad))
        if self._k is not None and use_buffer != self._buffered:  # switching modes (rare)
            k_old, v_old, n = self.k, self.v, self.length
            self.reset()
            if use_buffer:
                self._write(k_old.data, v_old.data)
            else:
                self._k, self._v, self.length = k_old, v_old, n
        if use_buffer:
            self._write(k.data, v.data)
            return self.k, self.v
        if self._k is None:
            self._k, self._v = k, v
        else:  # differentiable: gradients flow back into earlier steps' keys and values
            self._k, self._v = F.concat([self._k, k], axis=2), F.concat([self._v, v], axis=2)
        self.length += k.shape[2]
        return self._k, self._v

    def _write(self, k, v):
        """Copy arrays k, v into the buffer after the held positions, growing it if needed."""
        need = self.length + k.shape[2]
        if self._k is None or need > self._k.shape[2]:
            xp = get_array_module(k)
            old = self._k.shape[2] if self._k is not None else 0
            cap = max(need, self.max_len or 0, 2 * old)
            B, H, _, hs = k.shape
            nk, nv = xp.empty((B, H, cap, hs), dtype=k.dtype), xp.empty((B, H, cap, hs), dtype=v.dtype)
            if self._k is not None:
                nk[:, :, : self.length] = self._k[:, :, : self.length]
                nv[:, :, : self.length] = self._v[:, :, : self.length]
            self._k, self._v, self._buffered = nk, nv, True
        self._k[:, :, self.length : need] = k
        self._v[:, :, self.length : need] = v
        self.length = need

    def __repr__(self):
        shape = None if self._k is None else self._kshape[:2] + (self.length,) + self._kshape[3:]
        return f"KVCache(length={self.length}, shape={shape})"


class CausalSelfAttention(Module):
    """Multi-head causal self-attention of GPT-2 (parameters ``c_attn``, ``c_proj``).

    ``forward(x, cache=None)``: x (B, T, C) -> (B, T, C). With a ``KVCache`` the queries of x
    attend to every cached position too, and x's keys and values are appended to the cache.
    ``self.attention`` ("fused" or "composed") picks the implementation.
    """

    def __init__(self, config, dtype=np.float32, device="cpu", rng=None):
        super().__init__()
        rng = as_generator(rng)
        C, L = config.n_embd, config.n_layer
        self.n_head, self.n_embd = config.n_head, C
        self.attention = config.attention
        kw = dict(bias=config.bias, dtype=dtype, device=device, rng=rng)
        self.c_attn = Linear(C, 3 * C, init_std=0.02, **kw)
        # GPT-2: residual projections scaled by 1/sqrt(2L) (two residual additions per block)
        self.c_proj = Linear(C, C, init_std=0.02 / math.sqrt(2 * L), **kw)
        self.attn_dropout = Dropout(config.dropout, rng=rng)
        self.resid_dropout = Dropout(config.dropout, rng=rng)
        self.record_attention = False  # True: keep last_attention (the last query's weights)
        self.last_attention = None
        self.rope = (
            RotaryEmbedding(config.head_size, config.block_size, dtype=dtype, device=device)
            if config.pos_encoding == "rope"
            else None
        )

    def _rotate(self, x, offset):
        """x (B, H, T, hs) rotated by RoPE at positions offset .. offset + T - 1; unchanged without RoPE."""
        if self.rope is None:
            return x
        return self.rope(x, offset, composed=self.attention == "composed")

    def forward(self, x, cache=None):
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"CausalSelfAttention: expected x (B, T, {self.n_embd}), got {x.shape}")
        B, T, C = x.shape
        H, hs = self.n_head, C // self.n_head
        drop = self.attn_dropout
        dropout_p = drop.p if drop.active() else 0.0
        rng = drop.generator(get_array_module(x.data)) if dropout_p else None
        qkv = self.c_attn(x)  # (B, T, 3C)
        if cache is None and self.rope is None and self.attention == "fused" and not self.record_attention:
            # training's path: split the heads, attend and merge them back in one op (the same
            # values as below; its backward writes one dqkv instead of summing three)
            return self.resid_dropout(self.c_proj(F.qkv_attention(qkv, H, dropout_p, rng)))
        # (B, T, 3C) -> (B, T, 3, H, hs) -> (3, B, H, T, hs): q, k, v with the heads split off
        qkv = qkv.reshape(B, T, 3, H, hs).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, H, T, hs)
        if cache is None:  # a full forward (training): the tokens sit at positions 0 .. T-1
            q, k = self._rotate(q, 0), self._rotate(k, 0)
        else:
            ### BEGIN SOLUTION 11.4
            offset = cache.length
            q, k = self._rotate(q, offset), self._rotate(k, offset)
            k, v = cache.append(k, v)  # (B, H, offset + T, hs)
            ### END SOLUTION 11.4
        if self.record_attention:
            self.last_attention = last_query_attention(q.data, k.data)

        if self.attention == "fused":
            y = F.scaled_dot_product_attention(q, k, v, causal=True, dropout_p=dropout_p, rng=rng)
        else:
            y = attention_composed(q, k, v, causal=True, dropout_p=dropout_p, rng=rng)
        y = y.transpose(1, 2).reshape(B, T, C)  # merge the heads back: (B, T, C)
        return self.resid_dropout(self.c_proj(y))

    def extra_repr(self):
        return f"n_head={self.n_head}, attention={self.attention!r}"
