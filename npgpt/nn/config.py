"""``GPTConfig``: the handful of numbers that define a GPT, with the published sizes as presets,
and ``parameter_count``: how many weights a config has, counted on paper (no allocation).

Sizes of the OpenAI models (V vocabulary, T context, L layers, H heads, C width):

    preset        V       T     L    H     C      parameters
    gpt1        40478    512   12   12    768     116.5M  (reported as 117M)
    gpt2        50257   1024   12   12    768     124.4M  (GPT-2 small; 124,439,808)
    gpt2-medium 50257   1024   24   16   1024     354.8M
    gpt2-large  50257   1024   36   20   1280     774.0M
    gpt2-xl     50257   1024   48   25   1600    1557.6M  ("GPT-2", 1.5B)
    gpt3        50257   2048   96   96  12288  174,604M   ("GPT-3", 175B)

All use learned positions, GELU, a 4C-wide MLP, biases, and an output head tied to the token
embedding. GPT-1 differs in where LayerNorm sits (it is *post-LN*, GPT-2 and GPT-3 are *pre-LN*)
and has no final LayerNorm; GPT-2 and GPT-3 have a final ``ln_f``. npgpt builds the pre-LN model;
``parameter_count(cfg, arch="gpt1")`` counts GPT-1 as it was. (GPT-3 also alternated dense and
locally banded sparse attention, which changes no count.)
### BEGIN SOLUTION 9.1
Post-LN: x = LN(x + sublayer(x)); pre-LN: x = x + sublayer(LN(x)).
### END SOLUTION 9.1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

POS_ENCODINGS = ("learned", "sinusoidal", "rope")
ATTENTIONS = ("fused", "composed")
NORMS = ("pre", "post", "none")

PRESETS = {
    "gpt1": dict(vocab_size=40478, block_size=512, n_layer=12, n_head=12, n_embd=768),
    "gpt2": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": dict(vocab_size=50257, block_size=1024, n_layer=24, n_head=16, n_embd=1024),
    "gpt2-large": dict(vocab_size=50257, block_size=1024, n_layer=36, n_head=20, n_embd=1280),
    "gpt2-xl": dict(vocab_size=50257, block_size=1024, n_layer=48, n_head=25, n_embd=1600),
    "gpt3": dict(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288),
}


@dataclass
class GPTConfig:
    """Hyperparameters of a GPT (nanoGPT's names).

    vocab_size V, block_size T (longest context), n_layer L, n_head H, n_embd C (C % H == 0;
    head size C/H), dropout p, bias (in Linear and LayerNorm), pos_encoding ("learned",
    "sinusoidal" or "rope"), attention ("fused" op or "composed" of primitive ops), ln_eps, and
    norm, where the LayerNorms sit: "pre" (GPT-2 and GPT-3, the default), "post" (GPT-1 and the
    original Transformer: x = LN(x + sublayer(x)), no final ln_f) or "none" (no LayerNorm at all;
    notebook 10 trains all three).
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True
    pos_encoding: str = "learned"
    attention: str = "fused"
    ln_eps: float = 1e-5
    norm: str = "pre"

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raise ValueError naming the first field that makes no sense."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig: n_embd={self.n_embd} is not divisible by n_head={self.n_head} "
                "(each head gets n_embd // n_head features)"
            )
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"GPTConfig.bias must be True or False, got {self.bias!r}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"GPTConfig.pos_encoding must be one of {POS_ENCODINGS}, got {self.pos_encoding!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"GPTConfig.attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.norm not in NORMS:
            raise ValueError(f"GPTConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if not (isinstance(self.ln_eps, (int, float)) and self.ln_eps > 0):
            raise ValueError(f"GPTConfig.ln_eps must be a positive number, got {self.ln_eps!r}")
        if self.pos_encoding == "rope" and self.head_size % 2:
            raise ValueError(f"GPTConfig: rope needs an even head size, got n_embd/n_head = {self.head_size}")

    @property
    def head_size(self):
        return self.n_embd // self.n_head

    # ----------------------------------------------------------------- JSON
    def to_dict(self):
        """A plain dict of the fields (JSON-able)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Inverse of ``to_dict``; unknown keys are an error (a typo would otherwise be ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"GPTConfig.from_dict: unknown keys {unknown}; known: {sorted(names)}")
        return cls(**d)

    # ----------------------------------------------------------------- presets
    @classmethod
    def preset(cls, name, **overrides):
        """A published size (see ``PRESETS``), e.g. ``GPTConfig.preset("gpt2", dropout=0.1)``."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


def parameter_count(config, arch="gpt2"):
    """Exact number of parameters of ``config``, counted analytically (nothing is allocated).

    ``arch`` applies to the default ``config.norm == "pre"``; a "post" or "none" config is counted
    as the model ``GPT(config)`` builds (no final LayerNorm; "none": no LayerNorm in the blocks).

    ### BEGIN SOLUTION 9.2
    Per block (C = n_embd; biases only with ``bias``):
        ln_1, ln_2        2 * (C + C)                  LayerNorm gain and bias
        attn.c_attn       C * 3C + 3C                  fused q, k, v projection
        attn.c_proj       C * C + C
        mlp.c_fc          C * 4C + 4C
        mlp.c_proj        4C * C + C
      = 12 C^2 + 13 C with biases, 12 C^2 + 2 C without.
    Plus the token embedding V * C (also the tied output head: counted once), the learned
    positions T * C (none for sinusoidal or rope), and the final LayerNorm (arch "gpt2"; GPT-1,
    ``arch="gpt1"``, has none).
    ### END SOLUTION 9.2
    """
    if arch not in ("gpt2", "gpt1"):
        raise ValueError(f"arch must be 'gpt2' (pre-LN, final LayerNorm) or 'gpt1' (post-LN, none), got {arch!r}")
    if config.norm != "pre":  # GPT(config) then has no ln_f (and with "none" no LayerNorm at all)
        n = parameter_count(dataclasses.replace(config, norm="pre"), arch="gpt1")
        if config.norm == "none":
            n -= 2 * config.n_layer * config.n_embd * (2 if config.bias else 1)
        return n
    ### BEGIN SOLUTION 9.2
    C, b = config.n_embd, 1 if config.bias else 0
    ln = C + b * C
    block = 2 * ln + (3 * C * C + b * 3 * C) + (C * C + b * C) + (4 * C * C + b * 4 * C) + (4 * C * C + b * C)
    n = config.vocab_size * C + config.n_layer * block
    if config.pos_encoding == "learned":
        n += config.block_size * C
    if arch == "gpt2":
        n += ln
    return n
    ### END SOLUTION 9.2
