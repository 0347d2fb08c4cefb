"""The GPT language model: token ids in, next-token logits (and the loss) out.

    x = wte[idx] (+ wpe[positions])              (B, T, C)  token (+ learned position) embeddings
    x = dropout(x)
    x = block_i(x)  for i = 0 .. L-1             (B, T, C)  pre-LN transformer blocks
    x = ln_f(x)                                  (B, T, C)  (an Identity for GPTConfig(norm="post" or "none"))
    logits = x @ wte^T                           (B, T, V)  head TIED to the token embedding
    loss = cross_entropy(logits, targets)                   mean over positions (ignore_index -100)

Trained end to end to predict token t+1 from tokens 0..t (a causal language model); logits[:, t]
is that prediction. Parameter names match GPT-2 in HuggingFace (``transformer.h.0.attn.c_attn.weight``
...), except that our Linear weights are (out, in) where HF's Conv1D stores (in, out).

Generation with a KV cache: ``cache = model.new_cache()`` (one ``KVCache`` per block) and
``model(idx_new, cache=cache)``: positions continue from ``cache[0].length``.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..backend import as_generator, device_of, to_device
from ..generation import generate, generate_stream
from ..tensor import array_of
from . import hf
from .attention import KVCache
from .block import Block
from .layers import Dropout, Embedding, Identity, LayerNorm
from .module import Module, ModuleDict, ModuleList
from .positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding


class GPT(Module):
    """GPT-2-style decoder-only transformer built from a ``GPTConfig``.

    ``GPT(config, rng=None, dtype=np.float32, device="cpu")``: ``rng`` is a NumPy Generator or an
    int seed (None: fresh entropy) for the initial weights: N(0, 0.02) for Linear and Embedding
    weights, N(0, 0.02/sqrt(2 L)) for the residual projections ``attn.c_proj`` and ``mlp.c_proj``,
    zero biases, LayerNorm gain 1 and bias 0. Dropout draws from a generator spawned from ``rng``
    (replace it with ``set_rng``).

    ``model(idx, targets=None, cache=None) -> (logits, loss)``.
    """

    def __init__(self, config, rng=None, dtype=np.float32, device="cpu"):
        super().__init__()
        config.validate()
        self.config = config
        rng = as_generator(rng)
        C = config.n_embd
        t = ModuleDict()
        t.wte = Embedding(config.vocab_size, C, dtype=dtype, device=device, rng=rng, init_std=0.02)
        if config.pos_encoding == "learned":
            t.wpe = LearnedPositionalEmbedding(config.block_size, C, dtype=dtype, device=device, rng=rng)
        elif config.pos_encoding == "sinusoidal":
            t.wpe = SinusoidalPositionalEncoding(config.block_size, C, dtype=dtype, device=device)
        # rope: no table here, each attention layer rotates its own queries and keys
        t.drop = Dropout(config.dropout)
        t.h = ModuleList(Block(config, dtype=dtype, device=device, rng=rng) for _ in range(config.n_layer))
        if config.norm == "pre":
            t.ln_f = LayerNorm(C, eps=config.ln_eps, bias=config.bias, dtype=dtype, device=device)
        else:  # post-LN blocks end normalised already (GPT-1 has no ln_f); "none" normalises nothing
            t.ln_f = Identity()
        self.transformer = t
        for name, p in self.named_parameters():
            p.name = name  # gradcheck reports and error messages show full names
        # dropout gets its own stream, so turning dropout on never changes the initial weights
        has_seed_seq = rng.bit_generator.seed_seq is not None
        self.set_rng(rng.spawn(1)[0] if has_seed_seq else as_generator(rng.integers(2**63)))

    # ----------------------------------------------------------------- forward
    def forward(self, idx, targets=None, cache=None, last_only=False):
        cfg = self.config
        wte = self.transformer.wte.weight
        ids = self._check_ids(idx, "idx")
        B, T = ids.shape
        offset = 0
        if cache is not None:
            if len(cache) != cfg.n_layer:
                raise ValueError(f"GPT: cache has {len(cache)} layers, the model {cfg.n_layer}; use model.new_cache()")
            offset = cache[0].length
        if offset + T > cfg.block_size:
            what = f"cached {offset} + new {T} = {offset + T} tokens" if cache else f"sequence of {T} tokens"
            raise ValueError(f"GPT: {what} is longer than block_size={cfg.block_size} (crop the context)")

        x = F.embedding(ids, wte)  # (B, T, C)
        if cfg.pos_encoding != "rope":
            x = self.transformer.wpe(x, offset)
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache=None if cache is None else cache[i])
        if last_only:  # generation needs only the next token's logits: skip the head elsewhere
            x = x[:, -1:]
        x = self.transformer.ln_f(x)
        logits = F.linear(x, wte)  # (B, T, V): x @ wte^T, the tied output head

        loss = None
        if targets is not None:
            t = self._check_ids(targets, "targets", check_range=False)
            if t.shape != (B, T):
                raise ValueError(f"GPT: targets have shape {t.shape}, expected {(B, T)} like idx")
            loss = F.cross_entropy(logits, t, ignore_index=-100)
        return logits, loss

    def _check_ids(self, idx, what, check_range=True):
        a = array_of(idx)
        if not hasattr(a, "dtype"):
            a = np.asarray(a)
        if a.dtype.kind not in "iu":
            raise TypeError(f"GPT: {what} must hold integer token ids, got dtype {a.dtype}")
        if a.ndim != 2:
            raise ValueError(f"GPT: {what} must have shape (B, T), got {a.ndim}-D shape {tuple(a.shape)}")
        if a.shape[1] == 0:
            raise ValueError(f"GPT: {what} is empty (T = 0)")
        dev = self.transformer.wte.weight.device
        if device_of(a) != dev:
            a = to_device(a, dev)
        V = self.config.vocab_size
        # checked on the CPU only: on a GPU the check would wait for the device every step
        if check_range and dev == "cpu" and (int(a.min()) < 0 or int(a.max()) >= V):
            raise ValueError(f"GPT: {what} has ids outside [0, {V}): min {int(a.min())}, max {int(a.max())}")
        return a

    # ----------------------------------------------------------------- HuggingFace GPT-2 folders
    @classmethod
    def from_hf(cls, folder, dtype=np.float32, device="cpu"):
        """A GPT holding the weights of a local HuggingFace GPT-2 folder (config.json + model.safetensors).

        Weights are converted to ``dtype`` and moved to ``device``; the model is returned in eval
        mode (dropout 0). Nothing is downloaded: fetch the folder first (e.g.
        ``huggingface-cli download gpt2``). Layout differences are handled in ``npgpt/nn/hf.py``.
        """
        config, state = hf.read_folder(folder)
        model = cls(config, rng=0, dtype=dtype, device=device)  # initial weights are all overwritten
        model.load_state_dict(state, strict=True)
        return model.eval()

    def save_hf(self, folder):
        """Write this model as a HuggingFace GPT-2 folder (config.json and model.safetensors);
        ``transformers.GPT2LMHeadModel.from_pretrained(folder)`` loads it (head tied to wte)."""
        return hf.write_folder(self, folder)

    # ----------------------------------------------------------------- helpers
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None, use_cache=True):
        """Prompt ``idx`` (B, T) followed by ``max_new_tokens`` sampled ids (see ``npgpt.generation``).

        temperature 0 = greedy; ``top_k``, ``top_p`` restrict sampling; ``rng`` a numpy Generator or
        seed; ``use_cache`` runs each new token alone against cached keys/values (exact).
        """
        return generate(self, idx, max_new_tokens, temperature, top_k, top_p, rng, use_cache)

    def generate_stream(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, rng=None, use_cache=True):
        """Like ``generate`` but yields each step's new ids (B,) as soon as they are chosen."""
        return generate_stream(self, idx, max_new_tokens, temperature, top_k, top_p, rng, use_cache)

    def new_cache(self, max_len=None):
        """An empty KV cache for generation: a list of one ``KVCache`` per block."""
        return [KVCache(max_len or self.config.block_size) for _ in range(self.config.n_layer)]

    def crop_block_size(self, block_size):
        """Shrink the context to ``block_size`` (e.g. to fine-tune a pretrained model on shorter text).

        Learned positions keep their first rows; fixed tables are sliced. Do it before making an
        optimizer: the position Parameter gets a new (smaller) array.
        """
        cfg = self.config
        if not 0 < block_size <= cfg.block_size:
            raise ValueError(f"crop_block_size: need 0 < {block_size} <= {cfg.block_size}")
        wpe = getattr(self.transformer, "wpe", None)
        if isinstance(wpe, LearnedPositionalEmbedding):
            wpe.weight.data = wpe.weight.data[:block_size].copy()
            wpe.weight.grad = None
        for m in self.modules():
            if hasattr(m, "block_size"):
                m.block_size = block_size
            for name in ("pe", "cos", "sin"):
                if name in m._buffers:
                    m.register_buffer(name, m._buffers[name][:block_size].copy())
        self.config = type(cfg).from_dict({**cfg.to_dict(), "block_size": block_size})
        return self

    def extra_repr(self):
        c = self.config
        return (
            f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, n_head={c.n_head}, "
            f"n_embd={c.n_embd}, pos_encoding={c.pos_encoding!r}, attention={c.attention!r}"
        )
