"""One transformer block, pre-LayerNorm (GPT-2, GPT-3):

### BEGIN SOLUTION 9.1
    x = x + attn(ln_1(x))      tokens exchange information
    x = x + mlp(ln_2(x))       each token is processed on its own

The residual stream x is never normalised itself, only the copies entering each sublayer; this
keeps a clean gradient path from the loss to the embeddings and is what makes deep stacks train
stably. (GPT-1 and the original Transformer were post-LN: x = LN(x + sublayer(x)).)
### END SOLUTION 9.1

Two other arrangements, for the experiments of notebook 10 (``GPTConfig.norm``):

    "post"   x = ln_1(x + attn(x));  x = ln_2(x + mlp(x))     GPT-1, the original Transformer
    "none"   ln_1 and ln_2 are ``Identity``: the default forward with nothing normalised
"""

from __future__ import annotations

import numpy as np

from ..backend import as_generator
from .attention import CausalSelfAttention
from .layers import Identity, LayerNorm
from .mlp import MLP
from .module import Module


class Block(Module):
    """``ln_1``, ``attn``, ``ln_2``, ``mlp``; ``forward(x, cache=None)``: (B, T, C) -> (B, T, C).

    ``config.norm`` picks the arrangement: "pre" (the default), "post" or "none" (see above).
    """

    def __init__(self, config, dtype=np.float32, device="cpu", rng=None):
        super().__init__()
        rng = as_generator(rng)
        ln = dict(eps=config.ln_eps, bias=config.bias, dtype=dtype, device=device)
        self.norm = config.norm
        # LayerNorms draw no random numbers: every arrangement starts from the same weights
        self.ln_1 = Identity() if config.norm == "none" else LayerNorm(config.n_embd, **ln)
        self.attn = CausalSelfAttention(config, dtype=dtype, device=device, rng=rng)
        self.ln_2 = Identity() if config.norm == "none" else LayerNorm(config.n_embd, **ln)
        self.mlp = MLP(config, dtype=dtype, device=device, rng=rng)

    def forward(self, x, cache=None):
        if self.norm == "post":
            return self.forward_post_ln(x, cache)
        ### BEGIN SOLUTION 9.1
        x = x + self.attn(self.ln_1(x), cache=cache)
        x = x + self.mlp(self.ln_2(x))
        ### END SOLUTION 9.1
        return x

    def forward_post_ln(self, x, cache=None):
        """Post-LN (GPT-1, the original Transformer): the residual stream itself is normalised
        after each addition, so every layer's gradient passes through two LayerNorms."""
        x = self.ln_1(x + self.attn(x, cache=cache))
        return self.ln_2(x + self.mlp(x))
