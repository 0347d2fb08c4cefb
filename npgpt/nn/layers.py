"""The basic layers: Linear, Embedding, LayerNorm, Dropout, GELU, Identity.

Each is a thin Module around one fused op of ``npgpt.functional`` (whose forward and backward
live in ``npgpt.ops``). Constructors take PyTorch's factory arguments ``dtype`` and ``device``,
and, where the initial weights are random, ``rng`` (a NumPy Generator, an int seed, or None for fresh entropy).

``layer_norm_composed`` spells LayerNorm out with primitive ops, for the lesson: the tests hold it
equal to the fused op in forward and backward.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..backend import as_generator, get_array_module, xp_for_device
from . import init
from .module import Module, Parameter


def _empty(shape, dtype, device):
    return Parameter(xp_for_device(device).empty(shape, dtype=dtype))


class Linear(Module):
    """y = x @ W^T + b.  x (..., in) -> y (..., out); W (out, in) as in PyTorch, b (out,).

    Initial weights: ``init_std=None`` gives PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) for W
    and b; a number gives N(0, init_std^2) for W and zeros for b (GPT-2's scheme).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, device="cpu", rng=None, init_std=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = as_generator(rng)
        self.weight = _empty((out_features, in_features), dtype, device)
        self.bias = _empty((out_features,), dtype, device) if bias else None
        if init_std is None:
            bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
            init.uniform_(self.weight, -bound, bound, rng)
            if bias:
                init.uniform_(self.bias, -bound, bound, rng)
        else:
            init.normal_(self.weight, init_std, rng)
            if bias:
                init.zeros_(self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """y = W[ids]: ids (any shape, integers in [0, V)) -> ids.shape + (C,); W (V, C).

    Initial weights N(0, init_std^2); ``init_std=1.0`` is PyTorch's default, GPT-2 uses 0.02.
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32, device="cpu", rng=None, init_std=1.0):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = _empty((num_embeddings, embedding_dim), dtype, device)
        init.normal_(self.weight, init_std, as_generator(rng))

    def forward(self, ids):
        return F.embedding(ids, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (C features).

    weight starts at 1 and bias at 0, so a fresh LayerNorm only normalises. ``bias=False`` drops
    the bias (as nanoGPT's option). Uses the fused ``F.layer_norm``.
    """

    def __init__(self, normalized_shape, eps=1e-5, bias=True, dtype=np.float32, device="cpu"):
        super().__init__()
        C = normalized_shape if isinstance(normalized_shape, int) else int(np.prod(normalized_shape))
        self.normalized_shape, self.eps = int(C), float(eps)
        self.weight = init.ones_(_empty((C,), dtype, device))
        self.bias = init.zeros_(_empty((C,), dtype, device)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps:g}, bias={self.bias is not None}"


def layer_norm_composed(x, weight, bias=None, eps=1e-5):
    """LayerNorm from primitive ops only; same result and gradients as ``F.layer_norm``.

        mu   = mean(x, -1)                  (..., 1)
        var  = mean((x - mu)^2, -1)         (..., 1)  biased, as in the paper and PyTorch
        xhat = (x - mu) / sqrt(var + eps)   (..., C)
        y    = xhat * weight + bias         (..., C)

    Autograd differentiates through every step; the fused op's backward is the same chain rule
    collapsed by hand (see ``npgpt/ops/layernorm.py``).
    """
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    xhat = (x - mu) / (var + eps).sqrt()
    y = xhat * weight
    return y if bias is None else y + bias


class Dropout(Module):
    """Inverted dropout while training: zero each entry with probability p, scale the rest by
    1/(1-p); the identity in eval mode (or when p == 0).

    Randomness comes from the module's generator (``rng``: a Generator, a seed, or None for fresh
    entropy); ``Module.set_rng`` replaces it in a whole model. On the GPU a CuPy generator is
    seeded once from it (CuPy cannot use NumPy's generator).
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self._set_own_rng(as_generator(rng))

    def _set_own_rng(self, rng):
        self.__dict__["rng"] = rng
        self.__dict__["_device_rng"] = None

    def generator(self, xp):
        """The generator to draw masks from for arrays of module ``xp`` (numpy or cupy)."""
        if xp is np:
            return self.rng
        if self._device_rng is None:
            self.__dict__["_device_rng"] = as_generator(int(self.rng.integers(2**63)), xp)
        return self._device_rng

    def active(self):
        return self.training and self.p > 0.0

    def forward(self, x):
        if not self.active():
            return x
        return F.dropout(x, self.p, True, rng=self.generator(get_array_module(x.data)))

    def extra_repr(self):
        return f"p={self.p:g}"


class GELU(Module):
    """GELU activation; ``approximate="tanh"`` is GPT-2's form, ``"none"`` the exact erf form."""

    def __init__(self, approximate="tanh"):
        super().__init__()
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Identity(Module):
    """y = x, no parameters: stands where a GPT without LayerNorm (``GPTConfig(norm="none")``) has none."""

    def forward(self, x):
        return x
