"""In-context learning born in an induction head (Olsson et al. 2022), measured on npgpt's modules.

The task: sequences of 2n random tokens whose second half repeats the first. The first half is
unpredictable (loss ln V at best); the second half is predictable *only from the context*: after
token A, predict what followed A last time. A two-layer attention-only model learns it with two
heads working together:

    layer 1, a previous-token head:  position j attends to j - 1, and writes "token before me was B"
    layer 2, an induction head:      position i (token A) attends to the position j whose previous
                                     token was A (one past A's earlier occurrence) and copies
                                     token j, the one that followed A, into the prediction

Training shows a phase change: the repeated half's loss sits at ln V, then drops suddenly when
the two heads form; the first half's never moves. ``ablate(model, layer, head)`` zeroes one
head's output and the ability is gone.

Scores, from attention maps ``att[..., i, j]`` (query i, key j):
    previous_token_score = mean over i >= 1 of att[i, i - 1]
### BEGIN SOLUTION 14.3
    induction_score      = mean over i (with an earlier match) of sum_{j < i, ids[j-1] = ids[i]} att[i, j]
### END SOLUTION 14.3
``in_context_loss_drop``: loss at late positions minus loss at early ones (negative: the context helps).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from . import functional as F
from .autograd import no_grad
from .backend import as_generator
from .nn.layers import Embedding, LayerNorm, Linear
from .nn.module import Module, ModuleList
from .nn.positional import LearnedPositionalEmbedding
from .ops.attention import causal_mask
from .optim import AdamW


class AttentionLayer(Module):
    """Causal multi-head self-attention, composed of primitive ops so its weights can be read.

    ``forward(x)``: x (B, T, C) -> (B, T, C). Keeps ``attention`` (B, H, T, T), the last weights.
    Heads in ``ablated`` are mean-ablated: their output at every position is replaced by its mean
    over the batch and positions, so the head still adds its average but no longer carries
    anything about this position's context (zeroing it instead would also shift the first half).
    """

    def __init__(self, n_embd, n_head, rng):
        super().__init__()
        self.n_head, self.n_embd = n_head, n_embd
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=False, rng=rng, init_std=0.02)
        self.c_proj = Linear(n_embd, n_embd, bias=False, rng=rng, init_std=0.02)
        self.ablated = ()
        self.attention = None

    def forward(self, x):
        B, T, C = x.shape
        H, hs = self.n_head, C // self.n_head
        qkv = self.c_attn(x).reshape(B, T, 3, H, hs).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, H, T, hs)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, H, T, T)
        att = att.masked_fill(causal_mask(T, T), -np.inf).softmax(axis=-1)
        self.attention = att.data
        y = att @ v  # (B, H, T, hs)
        if self.ablated:
            keep = np.ones((H, 1, 1), dtype=y.dtype)
            keep[list(self.ablated)] = 0.0
            y = y * keep + (1 - keep) * y.data.mean(axis=(0, 2), keepdims=True)  # a constant: no gradient
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class AttentionOnly(Module):
    """An attention-only transformer: x = wte[ids] + wpe; x = x + attn_l(ln_l(x)) per layer; logits = W_U ln_f(x).

    No MLPs: all a layer can do is move information between positions, which is what makes its
    heads readable. ``model(ids, targets=None) -> (logits, loss)``, like ``GPT``.
    """

    def __init__(self, vocab_size, block_size, n_layer=2, n_head=2, n_embd=32, rng=None):
        super().__init__()
        rng = as_generator(rng)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.wte = Embedding(vocab_size, n_embd, rng=rng, init_std=0.02)
        self.wpe = LearnedPositionalEmbedding(block_size, n_embd, rng=rng)
        self.ln = ModuleList(LayerNorm(n_embd) for _ in range(n_layer))
        self.layers = ModuleList(AttentionLayer(n_embd, n_head, rng) for _ in range(n_layer))
        self.ln_f = LayerNorm(n_embd)
        self.lm_head = Linear(n_embd, vocab_size, bias=False, rng=rng, init_std=0.02)

    def forward(self, ids, targets=None):
        x = self.wpe(self.wte(np.asarray(ids)), 0)  # (B, T, C)
        for ln, attn in zip(self.ln, self.layers, strict=True):
            x = x + attn(ln(x))
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits, np.asarray(targets), ignore_index=-100)

    def attention_maps(self, ids):
        """Attention weights of every layer for ``ids`` (B, T): array (L, B, H, T, T)."""
        with no_grad():
            self(ids)
        return np.stack([layer.attention for layer in self.layers])


# ----------------------------------------------------------------------------- the task
def repeated_tokens(rng, batch, half, vocab_size, min_half=None):
    """(ids (batch, 2 * half), n (batch,)): each row is n random tokens, the same n again, then
    2 (half - n) random filler tokens; n is uniform in [min_half, half] (default half // 2).

    The length n varies so that "look n - 1 positions back" cannot solve the task: the model must
    find the earlier occurrence by its content, as an induction head does.
    """
    min_half = half // 2 if min_half is None else min_half
    ids = rng.integers(0, vocab_size, (batch, 2 * half))
    n = rng.integers(min_half, half + 1, batch)
    for row, m in zip(ids, n, strict=True):
        row[m : 2 * m] = row[:m]
    return ids, n


def next_token_targets(ids):
    """Targets for predicting token t + 1 at position t; the last position has none (-100)."""
    return np.concatenate([ids[:, 1:], np.full((len(ids), 1), -100)], axis=1)


def position_losses(model, ids):
    """Cross-entropy of predicting ids[:, t + 1] at each position t: (B, T - 1)."""
    with no_grad():
        logits, _ = model(ids)
    z = np.asarray(logits.data, dtype=np.float64)[:, :-1]  # (B, T - 1, V)
    z = z - z.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, np.asarray(ids)[:, 1:, None], axis=-1)[..., 0]


def half_losses(model, ids, n):
    """(first-half loss, repeated-half loss) on rows of ``repeated_tokens``.

    First half: predictions of tokens 1 .. n-1 (from positions 0 .. n-2); repeated half: tokens
    n+1 .. 2n-1, each predictable by looking one past its earlier occurrence. Token n (the first
    repeated one) is in neither: nothing in the context says the repeat starts there.
    """
    pl = position_losses(model, ids)
    t = np.arange(pl.shape[1])[None, :]  # position t predicts token t + 1
    n = np.asarray(n)[:, None]
    return float(pl[t < n - 1].mean()), float(pl[(t >= n) & (t < 2 * n - 1)].mean())


def train_induction(
    steps=700, vocab_size=32, half=16, batch_size=32, n_head=1, n_embd=32, lr=3e-3, seed=0, eval_every=25
):
    """Train an ``AttentionOnly`` model (2 layers) on repeated random sequences.

    One head per layer by default, so the circuit has nowhere else to live: ablating the induction
    head removes the ability (with two heads a layer, both often learn it and cover for each other).

    Returns (model, history): history is a list of dicts {step, first_half, repeated_half}
    measured on one fixed held-out batch every ``eval_every`` steps. AdamW at a constant ``lr``
    after 50 warmup steps; no weight decay.
    """
    rng = np.random.default_rng(seed)
    model = AttentionOnly(vocab_size, 2 * half, n_layer=2, n_head=n_head, n_embd=n_embd, rng=rng)
    opt = AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    held_out = repeated_tokens(np.random.default_rng(seed + 1), 256, half, vocab_size)  # (ids, n)
    history = []
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            first, repeated = half_losses(model, *held_out)
            history.append({"step": step, "first_half": first, "repeated_half": repeated})
        if step == steps:
            break
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        ids, _ = repeated_tokens(rng, batch_size, half, vocab_size)
        _, loss = model(ids, next_token_targets(ids))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, history


def phase_change_step(history, threshold=0.5):
    """The first evaluated step where the repeated half's loss is below ``threshold`` x the first half's (or None)."""
    for h in history:
        if h["repeated_half"] < threshold * h["first_half"]:
            return h["step"]
    return None


# ----------------------------------------------------------------------------- reading the heads
def previous_token_score(att):
    """Mean attention from each position i >= 1 to i - 1: att (..., T, T) -> (...)."""
    T = att.shape[-1]
    i = np.arange(1, T)
    return att[..., i, i - 1].mean(-1)


def induction_targets(ids):
    """Boolean (T, T): True at [i, j] where key j is where an induction head at query i looks.

    ### BEGIN SOLUTION 14.3
    That is where j < i and ids[j - 1] == ids[i]: j is one past an earlier occurrence of ids[i].
    ### END SOLUTION 14.3
    """
    ### BEGIN SOLUTION 14.3
    ids = np.asarray(ids)
    T = len(ids)
    prev = np.concatenate([[-1], ids[:-1]])  # prev[j] = ids[j - 1]; position 0 has none
    match = prev[None, :] == ids[:, None]
    return match & np.tril(np.ones((T, T), dtype=bool), k=-1)
    ### END SOLUTION 14.3


def induction_score(att, ids):
    """Mean over queries that have an earlier occurrence of the attention they pay one past it.

    att (..., T, T) for one sequence ``ids`` (T,) -> (...). 1.0: every such query looks only
    there; a head that ignores the earlier occurrence scores about (matches) / (i + 1).
    """
    ### BEGIN SOLUTION 14.3
    target = induction_targets(ids)
    rows = target.any(-1)
    if not rows.any():
        raise ValueError("induction_score: no token of ids occurs twice, so there is nothing to find")
    return (att * target).sum(-1)[..., rows].mean(-1)
    ### END SOLUTION 14.3


def head_scores(maps, ids):
    """(previous-token score, induction score), each (L, H), from maps (L, B, H, T, T) of ids (B, T)."""
    prev = previous_token_score(maps).mean(1)
    ind = np.stack([induction_score(maps[:, b], ids[b]) for b in range(len(ids))], axis=1).mean(1)
    return prev, ind


@contextlib.contextmanager
def ablate(model, layer, head):
    """Inside the block, head ``head`` of layer ``layer`` is mean-ablated (see ``AttentionLayer``)."""
    attn = model.layers[layer]
    attn.ablated = (head,)
    try:
        yield model
    finally:
        attn.ablated = ()


def in_context_loss_drop(losses, early=(5, 15), late=(-10, None)):
    """Mean loss at late positions minus at early ones, from per-position losses (T,).

    Olsson et al. use the loss at token 500 minus at token 50; a short model uses its own first
    and last positions. Negative: later tokens, having more context, are predicted better.
    """
    losses = np.asarray(losses)
    return float(losses[slice(*late)].mean() - losses[slice(*early)].mean())
