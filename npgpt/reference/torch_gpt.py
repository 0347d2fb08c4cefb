"""The npgpt GPT written in PyTorch: a small readable reference (nanoGPT-like).

Exactly the architecture of ``npgpt.nn.GPT`` with the same parameter names and layouts, so a
state dict moves between the two unchanged (``load_npgpt_weights``):

    x = wte[idx] + wpe[0:T]                       (B, T, C)   learned (or fixed sinusoidal) positions
    x = dropout(x)
    x = x + attn(ln_1(x))                         pre-LN block, L times
    x = x + mlp(ln_2(x))
    logits = ln_f(x) @ wte^T                      (B, T, V)   head tied to the token embedding
    loss = cross_entropy(logits, targets)         mean, ignore_index -100

    attn: q, k, v = split(x W_attn^T + b), H heads, softmax(q k^T / sqrt(hs) + causal mask) v,
          merge heads, c_proj, dropout
    mlp:  c_proj(gelu_tanh(c_fc(x))), dropout

Linear weights are (out, in) (``torch.nn.Linear``), LayerNorm eps ``config.ln_eps``.
``config.attention`` picks torch's fused ``scaled_dot_product_attention`` ("fused") or the
formula spelled out ("composed"); both are checked against npgpt. ``config.norm`` "post" (GPT-1:
x = ln_1(x + attn(x)), no ln_f) and "none" (no LayerNorm) are built as npgpt builds them. Rotary positions are not
implemented here. Used by the cross-check tests and by ``npgpt bench``; requires torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..tensor import Tensor


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (``torch.nn.LayerNorm`` has none to switch off in old versions)."""

    def __init__(self, n, eps, bias):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.n_embd
        self.n_head = config.n_head
        self.fused = config.attention == "fused"
        self.c_attn = nn.Linear(C, 3 * C, bias=config.bias)  # q, k, v in one projection
        self.c_proj = nn.Linear(C, C, bias=config.bias)
        self.dropout = config.dropout
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        mask = torch.ones(config.block_size, config.block_size, dtype=torch.bool).triu(1)
        self.register_buffer("future", mask, persistent=False)  # True where key j > query i

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hs)
        if self.fused:
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, H, T, T)
            att = att.masked_fill(self.future[:T, :T], float("-inf"))
            att = self.attn_dropout(F.softmax(att, dim=-1))
            y = att @ v  # (B, H, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # merge the heads
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.n_embd
        self.c_fc = nn.Linear(C, 4 * C, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * C, C, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


def norm_layer(config):
    """A LayerNorm, or nothing for ``config.norm == "none"``."""
    return nn.Identity() if config.norm == "none" else LayerNorm(config.n_embd, config.ln_eps, config.bias)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm = config.norm
        self.ln_1 = norm_layer(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = norm_layer(config)
        self.mlp = MLP(config)

    def forward(self, x):
        if self.norm == "post":  # GPT-1: normalise the stream after each addition
            x = self.ln_1(x + self.attn(x))
            return self.ln_2(x + self.mlp(x))
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


def sinusoidal_positions(T, C):
    """The Transformer's fixed table (Vaswani et al. 2017), (T, C) float64, written here in torch
    from the paper's formula (not taken from npgpt, so that comparing the two checks npgpt's):

        PE[pos, 2i] = sin(pos / 10000^(2i/C)),   PE[pos, 2i+1] = cos(pos / 10000^(2i/C))
    """
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, C, 2, dtype=torch.float64) * (-math.log(10000.0) / C))  # 1/10000^(2i/C)
    pe = torch.zeros(T, C, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: C // 2])  # an odd C has one sine more than cosines
    return pe


class TorchGPT(nn.Module):
    """``TorchGPT(config)``: an ``npgpt.nn.GPTConfig`` (pos_encoding "learned" or "sinusoidal").

    Weights start as PyTorch initialises them (they are meant to be overwritten with
    ``load_npgpt_weights`` or built with ``from_npgpt_state``). ``forward(idx, targets=None)``
    -> ``(logits, loss)``; idx, targets (B, T) int64 tensors.
    """

    def __init__(self, config):
        super().__init__()
        if config.pos_encoding not in ("learned", "sinusoidal"):
            raise NotImplementedError(
                f"TorchGPT: pos_encoding={config.pos_encoding!r} is not implemented (only 'learned' and 'sinusoidal')"
            )
        self.config = config
        C = config.n_embd
        t = nn.ModuleDict(dict(wte=nn.Embedding(config.vocab_size, C)))
        if config.pos_encoding == "learned":
            t["wpe"] = nn.Embedding(config.block_size, C)
        t["drop"] = nn.Dropout(config.dropout)
        t["h"] = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        t["ln_f"] = LayerNorm(C, config.ln_eps, config.bias) if config.norm == "pre" else nn.Identity()
        self.transformer = t
        if config.pos_encoding == "sinusoidal":
            pe = sinusoidal_positions(config.block_size, C)  # float64; cast in forward
            self.register_buffer("pe", pe, persistent=False)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"TorchGPT: sequence of {T} tokens is longer than block_size={self.config.block_size}")
        wte = self.transformer.wte.weight
        x = self.transformer.wte(idx)  # (B, T, C)
        if self.config.pos_encoding == "learned":
            x = x + self.transformer.wpe.weight[:T]
        else:
            x = x + self.pe[:T].to(x.dtype)
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            x = block(x)
        logits = self.transformer.ln_f(x) @ wte.T  # tied head: (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss

    @classmethod
    def from_npgpt_state(cls, state_dict, config, dtype=torch.float64):
        """A TorchGPT of ``config`` in ``dtype`` holding exactly the arrays of an npgpt state dict."""
        model = cls(config).to(dtype)
        load_npgpt_weights(model, state_dict)
        return model


def load_npgpt_weights(torch_model, state_dict):
    """Copy an npgpt state dict (name -> NumPy/CuPy array or Tensor) into ``torch_model`` in place.

    Names and shapes must match exactly (both use GPT-2's names and (out, in) Linear weights);
    values are converted to each parameter's dtype and device. Returns ``torch_model``.
    """
    own = dict(torch_model.named_parameters())
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise ValueError(f"load_npgpt_weights: names differ; missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for name, p in own.items():
            a = _to_numpy(state_dict[name])
            if tuple(a.shape) != tuple(p.shape):
                raise ValueError(f"load_npgpt_weights: {name} has shape {tuple(a.shape)}, the model {tuple(p.shape)}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(a)))
    return torch_model


def _to_numpy(a):
    if isinstance(a, Tensor):
        a = a.data
    if type(a).__module__.startswith("cupy"):
        a = a.get()
    return np.asarray(a)
