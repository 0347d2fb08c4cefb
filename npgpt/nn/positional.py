"""Positional encodings: how a transformer learns where each token is.

Attention alone is permutation-invariant (it sees a set of tokens), so position must be added:

* ``LearnedPositionalEmbedding`` (GPT-1, GPT-2, GPT-3): a trained table, one C-vector per position,
  added to the token embeddings. Its Parameter is ``weight`` (block_size, C) ("wpe" in GPT-2).
* ``SinusoidalPositionalEncoding`` (the original Transformer, Vaswani et al. 2017): a fixed table,
### BEGIN SOLUTION 8.1
  PE[pos, 2i] = sin(pos / 10000^(2i/C)), PE[pos, 2i+1] = cos(pos / 10000^(2i/C)); nothing learned.
### END SOLUTION 8.1
* ``RotaryEmbedding`` (RoPE; GPT-NeoX, LLaMA): nothing added to the embeddings; instead each
  attention head rotates its queries and keys by position-dependent angles (see ``npgpt/ops/rope.py``).

Every ``forward`` takes ``offset``: the absolute position of the first of the T given tokens. It is 0
for a whole sequence and the number of cached tokens when generating with a KV cache.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..backend import as_generator, get_array_module, to_device
from ..ops.rope import RoPE, rope_tables
from . import init
from .layers import _empty
from .module import Module


def _check_span(name, offset, T, block_size):
    if offset < 0 or offset + T > block_size:
        raise ValueError(
            f"{name}: positions {offset}..{offset + T - 1} do not fit in block_size={block_size} "
            f"(offset {offset} + length {T} = {offset + T} > {block_size})"
        )


class LearnedPositionalEmbedding(Module):
    """x + W[offset : offset + T]; x (B, T, C), W (block_size, C) learned, init N(0, init_std^2)."""

    def __init__(self, block_size, n_embd, dtype=np.float32, device="cpu", rng=None, init_std=0.02):
        super().__init__()
        self.block_size, self.n_embd = int(block_size), int(n_embd)
        self.weight = _empty((block_size, n_embd), dtype, device)
        init.normal_(self.weight, init_std, as_generator(rng))

    def forward(self, x, offset=0):
        T = x.shape[-2]
        _check_span("LearnedPositionalEmbedding", offset, T, self.block_size)
        # a basic slice: its backward writes the gradient into rows offset..offset+T-1 of dW
        return x + self.weight[offset : offset + T]

    def extra_repr(self):
        return f"{self.block_size}, {self.n_embd}"


def sinusoidal_table(block_size, n_embd):
    """The fixed (block_size, n_embd) float64 table: sin on even features, cos on odd ones.

    ### BEGIN SOLUTION 8.1
    Feature pair (2i, 2i+1) shares the angle pos / 10000^(2i/C), so frequencies fall geometrically
    from 1 (i = 0) to about 1/10000 (i = C/2): short wavelengths tell neighbours apart, long ones
    encode coarse position.
    ### END SOLUTION 8.1
    """
    ### BEGIN SOLUTION 8.1
    pos = np.arange(block_size, dtype=np.float64)[:, None]
    two_i = np.arange(0, n_embd, 2, dtype=np.float64)[None, :]  # 2i for every even feature
    angle = pos / 10000.0 ** (two_i / n_embd)  # (block_size, ceil(C/2))
    pe = np.empty((block_size, n_embd))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : n_embd // 2])
    ### END SOLUTION 8.1
    return pe


class SinusoidalPositionalEncoding(Module):
    """x + PE[offset : offset + T] with the fixed table of ``sinusoidal_table`` (a buffer, no Parameter).

    The gradient flows to x unchanged (adding a constant).
    """

    def __init__(self, block_size, n_embd, dtype=np.float32, device="cpu"):
        super().__init__()
        self.block_size, self.n_embd = int(block_size), int(n_embd)
        self.register_buffer("pe", to_device(sinusoidal_table(block_size, n_embd).astype(dtype), device))

    def forward(self, x, offset=0):
        T = x.shape[-2]
        _check_span("SinusoidalPositionalEncoding", offset, T, self.block_size)
        return x + self.pe[offset : offset + T]

    def extra_repr(self):
        return f"{self.block_size}, {self.n_embd}"


class RotaryEmbedding(Module):
    """Rotate queries or keys x (B, H, T, head_size) by their positions (fused ``RoPE`` op).

    Buffers ``cos`` and ``sin`` (block_size, head_size) hold the tables for every position; the
    GPT-NeoX/LLaMA "rotate_half" pairing is used (feature i with feature i + head_size/2).
    ``composed=True`` uses the primitive-op version (``apply_rope_composed``) instead.
    """

    def __init__(self, head_size, block_size, base=10000.0, dtype=np.float32, device="cpu"):
        super().__init__()
        if head_size % 2:
            raise ValueError(f"RotaryEmbedding: head_size must be even, got {head_size}")
        self.head_size, self.block_size, self.base = int(head_size), int(block_size), float(base)
        cos, sin = rope_tables(block_size, head_size, base, dtype=dtype)
        self.register_buffer("cos", to_device(cos, device))
        self.register_buffer("sin", to_device(sin, device))

    def forward(self, x, offset=0, composed=False):
        T = x.shape[-2]
        _check_span("RotaryEmbedding", offset, T, self.block_size)
        cos, sin = self.cos[offset : offset + T], self.sin[offset : offset + T]
        if cos.dtype != x.dtype:  # the tables follow the module's dtype; convert rather than fail
            cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
        if composed:
            return apply_rope_composed(x, cos, sin)
        return RoPE.apply(x, cos=cos, sin=sin)

    def extra_repr(self):
        return f"head_size={self.head_size}, block_size={self.block_size}, base={self.base:g}"


def apply_rope_composed(x, cos, sin):
    """RoPE from primitive ops (getitem, neg, concat, mul, add): the numbers of the ``RoPE`` op.

    ### BEGIN SOLUTION 8.3
    x * cos + [-x2, x1] * sin (x1, x2 = halves of the last axis).
    ### END SOLUTION 8.3
    """
    xp = get_array_module(x.data)
    ### BEGIN SOLUTION 8.3
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    rotated = F.concat([-x2, x1], axis=-1)
    return x * xp.asarray(cos) + rotated * xp.asarray(sin)
    ### END SOLUTION 8.3
