"""The position-wise feed-forward network of a transformer block.

    h = GELU(x @ W_fc^T + b_fc)        (B, T, 4C)   widen 4x, nonlinearity (GPT-2's tanh GELU)
    y = dropout(h @ W_proj^T + b_proj) (B, T, C)    back to the residual width

Attention moves information between positions; the MLP then processes each position on its own.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import as_generator
from .layers import GELU, Dropout, Linear
from .module import Module


class MLP(Module):
    """``c_fc`` Linear(C, 4C), GELU (tanh), ``c_proj`` Linear(4C, C), dropout. x (B, T, C) -> (B, T, C)."""

    def __init__(self, config, dtype=np.float32, device="cpu", rng=None):
        super().__init__()
        rng = as_generator(rng)
        C = config.n_embd
        kw = dict(bias=config.bias, dtype=dtype, device=device, rng=rng)
        self.c_fc = Linear(C, 4 * C, init_std=0.02, **kw)
        self.gelu = GELU(approximate="tanh")
        # a residual output projection: scaled like attn.c_proj (GPT-2)
        self.c_proj = Linear(4 * C, C, init_std=0.02 / math.sqrt(2 * config.n_layer), **kw)
        self.dropout = Dropout(config.dropout, rng=rng)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
