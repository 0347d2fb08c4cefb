# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Attention
#
# Attention is how the tokens of a sequence exchange information. Every token emits three vectors:
#
# * a **query** $q$: what am I looking for?
# * a **key** $k$: what do I contain?
# * a **value** $v$: what do I pass on if someone attends to me?
#
# Token $i$ scores every token $j$ by $q_i \cdot k_j$, turns the scores into weights with a softmax, and
# outputs the weighted average of the values. For all tokens at once, with $D$ the size of $q$ and $k$:
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{D}} + M\Big) V ,$$
# where $M$ is the **causal mask**. This notebook takes the formula apart: the scale, the mask, the
# heads, the backward through the softmax, and finally pictures of what a trained model attends to.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import (
    CausalSelfAttention,
    Embedding,
    GPTConfig,
    Linear,
    Module,
    Parameter,
    attention_composed,
    causal_mask,
)
from npgpt.optim import AdamW

np.set_printoptions(precision=3, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Why divide by $\sqrt{D}$
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then $q\cdot k = \sum_{d=1}^{D} q_d k_d$
# has variance $D$: scores grow like $\sqrt{D}$ with the head size. Large scores make the softmax
# **saturate**: nearly all weight on one key, and the softmax's gradient $p_i(\delta_{ij} - p_j)$ is then
# nearly zero everywhere, so learning stalls. Dividing by $\sqrt{D}$ brings the scores back to variance 1
# whatever the head size.

# %%
print(f"{'D':>5} {'std(q.k)':>9} {'std(q.k)/sqrt(D)':>17} {'max weight, unscaled':>21} {'scaled':>7}")
for D in [4, 16, 64, 256, 1024]:
    q = rng.standard_normal((2000, 16, D))
    k = rng.standard_normal((2000, 16, D))
    s = np.einsum("nd,ntd->nt", q[:, 0], k)  # one query against 16 keys, 2000 times
    unscaled = F.softmax(npgpt.tensor(s), axis=-1).numpy().max(-1).mean()
    scaled = F.softmax(npgpt.tensor(s / math.sqrt(D)), axis=-1).numpy().max(-1).mean()
    print(f"{D:5d} {s.std():9.2f} {s.std() / math.sqrt(D):17.2f} {unscaled:21.3f} {scaled:7.3f}")

# %% [markdown]
# ## 2. The causal mask: GPT only looks back
#
# GPT is a **causal** (autoregressive) language model: the output at position $t$ is a prediction of
# token $t+1$ and may use tokens $0 \dots t$ only. During training all $T$ predictions of a sequence are
# computed in one pass, so the model must be prevented from peeking at the answers. The mask sets the
# score of every future key to $-\infty$ before the softmax; $e^{-\infty} = 0$, so future tokens get
# exactly zero weight.
#
# (How this differs from BERT, and how a GPT is trained end to end: notebook 09, section 6.)
#
# `causal_mask(T, T)` is True where key $j$ is in the future of query $i$ ($j > i$):

# %% [markdown]
# **Predict, then run.** The next cell prints the mask, then changes the key and the value of the
# *last* token (position 4) by a lot and runs attention again. Which of the five outputs change:
# all of them, only the last one, or none? Decide before you run it.

# %%
print(causal_mask(5, 5).astype(int))

# proof by experiment: change the last token's key and value; outputs 0..3 do not change at all
q, k, v = (rng.standard_normal((1, 1, 5, 4)) for _ in range(3))
out = F.scaled_dot_product_attention(npgpt.tensor(q), npgpt.tensor(k), npgpt.tensor(v)).numpy()
k2, v2 = k.copy(), v.copy()
k2[..., 4, :] += 10.0
v2[..., 4, :] -= 7.0
out2 = F.scaled_dot_product_attention(npgpt.tensor(q), npgpt.tensor(k2), npgpt.tensor(v2)).numpy()
print("positions 0..3 unchanged (bit for bit):", np.array_equal(out[..., :4, :], out2[..., :4, :]))
print("position 4 changed:                   ", not np.allclose(out[..., 4, :], out2[..., 4, :]))

# %% [markdown]
# Only the last output moved: a query never reads a key to its right. The picture shows one head on a
# six-character string: the scores $q k^\top / \sqrt{D}$ (computed from random $q$ and $k$), the same
# scores with $-\infty$ above the diagonal, and the softmax of each row. Row $t$ spreads its weight
# over positions $0 \dots t$ only, and every row sums to 1.

# %%
from npgpt import viz

viz.draw_causal_attention("to be!")


# %% [markdown]
# ## 3. The formula in NumPy, and the library's two implementations
#
# npgpt has the same computation twice: `attention_composed` is built from primitive autograd ops (one
# line per formula, autograd derives the backward), and `F.scaled_dot_product_attention` is one fused op
# with a hand-written backward (`npgpt/ops/attention.py`). Both agree with five lines of NumPy.


# %%
def softmax_np(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def attention_np(q, k, v):
    T, D = q.shape[-2], q.shape[-1]
    s = q @ k.swapaxes(-1, -2) / np.sqrt(D)  # (B, H, T, T) scores
    s = np.where(causal_mask(T, T), -np.inf, s)  # no peeking
    return softmax_np(s) @ v


B, H, T, D = 2, 3, 6, 4
q, k, v = (npgpt.tensor(rng.standard_normal((B, H, T, D)), requires_grad=True) for _ in range(3))
by_hand = attention_np(q.numpy(), k.numpy(), v.numpy())
fused = F.scaled_dot_product_attention(q, k, v, causal=True)
composed = attention_composed(q, k, v, causal=True)
print("max |fused - NumPy|    =", np.abs(fused.numpy() - by_hand).max())
print("max |composed - NumPy| =", np.abs(composed.numpy() - by_hand).max())

# %% [markdown]
# ### Your turn: build the mask yourself
#
# Write `my_causal_mask(T)`: a boolean `(T, T)` array that is True where key $j$ lies in the future of
# query $i$ (the entries that get $-\infty$), like `causal_mask(T, T)`. The next cell checks it and then
# uses it in `attention_np`'s formula.
#
# *Hint:* compare a column of query positions with a row of key positions, and let broadcasting
# (notebook 00) build the square.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_causal_mask(T):
#     i = np.arange(T)[:, None]  # query positions, a column
#     j = np.arange(T)[None, :]  # key positions, a row
#     return j > i               # np.triu(np.ones((T, T), dtype=bool), k=1) works too
# ```
#
# </details>


# %%
def my_causal_mask(T):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    return j > i


# %%
from npgpt.exercises import check_array

check_array(
    "my_causal_mask(6)",
    my_causal_mask(6),
    causal_mask(6, 6),
    hint="True marks the FUTURE keys (j > i), the ones set to -inf; the diagonal (a token seeing itself) stays False.",
)
s6 = rng.standard_normal((6, 6))
check_array(
    "softmax with your mask",
    softmax_np(np.where(my_causal_mask(6), -np.inf, s6)),
    softmax_np(np.where(causal_mask(6, 6), -np.inf, s6)),
)

# %% [markdown]
# ## 4. Multi-head attention
#
# One attention pattern per layer would be limiting: a token may need to look at the previous token *and*
# at the subject of the sentence. Multi-head attention splits the $C$ features into $H$ heads of size
# $D = C/H$, runs attention in each head independently, concatenates the results and mixes them with
# an output projection. In GPT-2 (`CausalSelfAttention`):
#
# | step | shape |
# |---|---|
# | `q, k, v = split(x @ W_attn^T + b_attn)` | 3 × (B, T, C) |
# | reshape and transpose into heads | 3 × (B, H, T, D) |
# | attention in every head | (B, H, T, D) |
# | transpose back and merge the heads | (B, T, C) |
# | `y @ W_proj^T + b_proj` | (B, T, C) |
#
# The cost of the heads is no more than one big head: the same $C \times 3C$ projection, cut differently.
# Below, the module's forward is rebuilt from its own weights step by step.

# %%
cfg = GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=4, n_embd=16)
attn = CausalSelfAttention(cfg, rng=0, dtype=np.float64)
x = npgpt.tensor(rng.standard_normal((2, 8, 16)))
Bx, Tx, C = x.shape
Hx, Dx = cfg.n_head, cfg.n_embd // cfg.n_head

qkv = x.numpy() @ attn.c_attn.weight.numpy().T + attn.c_attn.bias.numpy()  # (B, T, 3C)
qh, kh, vh = (a.reshape(Bx, Tx, Hx, Dx).transpose(0, 2, 1, 3) for a in np.split(qkv, 3, axis=-1))
print("per-head q:", qh.shape)
y = attention_np(qh, kh, vh)  # (B, H, T, D)
y = y.transpose(0, 2, 1, 3).reshape(Bx, Tx, C)  # merge heads
y = y @ attn.c_proj.weight.numpy().T + attn.c_proj.bias.numpy()
print("max |module - by hand| =", np.abs(attn(x).numpy() - y).max())

# %% [markdown]
# The split and the merge as a picture: the colours are heads. Splitting is only a reshape and a
# transpose (no arithmetic, no copy of the weights); each head attends with its own $D$ features; the
# merge puts the heads side by side again, and `c_proj` mixes them.

# %%
viz.draw_multihead(n_head=4, head_size=2, T=3)


# %% [markdown]
# ## 5. The backward, through the softmax
#
# Forward, per head, with $s = 1/\sqrt{D}$:
# $$S = s\,QK^\top + M, \qquad P = \mathrm{softmax}(S), \qquad O = PV .$$
# Given $dO = \partial L/\partial O$, go back one line at a time:
#
# 1. $O = PV$ is a matrix product (notebook 03): $\;dV = P^\top dO,\quad dP = dO\, V^\top.$
# 2. The softmax acts row by row; its vector-Jacobian product (notebook 04) is
#    $$dS = P \odot \big(dP - \mathrm{rowsum}(dP \odot P)\big).$$
#    Masked entries have $P = 0$, so they get $dS = 0$: no gradient flows to the future.
# 3. $S = s\,QK^\top$: $\;dQ = s\, dS\, K,\quad dK = s\, dS^\top Q.$
#
# That is the whole of `ScaledDotProductAttention.backward`. In NumPy:


# %%
def attention_backward_np(q, k, v, dO):
    T, D = q.shape[-2], q.shape[-1]
    scale = 1.0 / np.sqrt(D)
    s = np.where(causal_mask(T, T), -np.inf, q @ k.swapaxes(-1, -2) * scale)
    P = softmax_np(s)
    dV = P.swapaxes(-1, -2) @ dO
    dP = dO @ v.swapaxes(-1, -2)
    dS = P * (dP - (dP * P).sum(-1, keepdims=True))  # softmax backward
    dQ = dS @ k * scale
    dK = dS.swapaxes(-1, -2) @ q * scale
    return dQ, dK, dV


dO = rng.standard_normal((B, H, T, D))
mine = attention_backward_np(q.numpy(), k.numpy(), v.numpy(), dO)
for name, impl in [("fused", F.scaled_dot_product_attention), ("composed", attention_composed)]:
    for t in (q, k, v):
        t.grad = None
    impl(q, k, v, causal=True).backward(dO)
    errs = [np.abs(t.grad - m).max() for t, m in zip((q, k, v), mine)]
    print(f"{name:9s} max |grad - NumPy| for dq, dk, dv: " + ", ".join(f"{e:.1e}" for e in errs))

# %% [markdown]
# ### Gradient checks
#
# Finite differences for the fused op, the composed one, and the cached case $T_q < T_k$ used in
# generation (the queries are the last $T_q$ positions; the mask is offset accordingly).

# %%
small = [npgpt.tensor(rng.standard_normal((1, 2, 5, 3)), requires_grad=True) for _ in range(3)]
for name, fn in [("fused", F.scaled_dot_product_attention), ("composed", attention_composed)]:
    report = npgpt.gradcheck(lambda a, b, c, fn=fn: fn(a, b, c, causal=True), small)
    print(f"{name:9s} {report.verdict:10s} max rel err {report.max_rel_err:.1e}")
    assert report.ok
q2 = npgpt.tensor(rng.standard_normal((1, 2, 2, 3)), requires_grad=True)  # 2 new queries, 5 keys
report = npgpt.gradcheck(F.scaled_dot_product_attention, [q2, small[1], small[2]])
print("Tq=2, Tk=5 (cached):")
print(report)
assert report.ok

# %% [markdown]
# ## 6. Attention maps: what a trained model looks at
#
# A freshly initialised attention layer attends almost uniformly to the past (its scores are all near
# 0). To see structure we train a tiny model for 100 steps on a task that *needs* attention: every
# sequence is 8 random digits followed by the same 8 digits again. From position 7 on, the next token is
# the one 7 positions back, so the model must learn to attend there. The targets of positions 0..6 are
# random digits nobody can predict, so they are not scored (set to `ignore_index`, notebook 04).
#
# The model is the smallest that can do it, built from pieces met so far: a table of token vectors
# (`Embedding`, the indexing of notebook 03), plus a learned vector per position (without one,
# attention cannot tell the key 7 back from any other: notebook 08 is about this), one two-head
# `CausalSelfAttention`, and a `Linear` read-out to 10 logits, trained with cross-entropy (notebook
# 04) by AdamW (notebook 05). An `nn.Module` keeps track of the `Parameter`s of its parts, so
# `model.parameters()` hands all of them to the optimizer. No residual connection, MLP or LayerNorm:
# those turn it into the GPT block of notebook 09.


# %%
class CopyModel(Module):
    """Token vectors plus position vectors, one causal self-attention layer, a linear read-out."""

    def __init__(self, cfg, rng):
        super().__init__()
        self.wte = Embedding(cfg.vocab_size, cfg.n_embd, rng=rng)  # N(0, 1), as PyTorch's Embedding
        self.wpe = Parameter(rng.standard_normal((cfg.block_size, cfg.n_embd)), dtype=np.float32)
        self.attn = CausalSelfAttention(cfg, rng=rng)
        self.head = Linear(cfg.n_embd, cfg.vocab_size, rng=rng)

    def embed(self, idx):
        return self.wte(idx) + self.wpe[: idx.shape[1]]  # (B, T, C): which token, and where it sits

    def forward(self, idx, targets):
        logits = self.head(self.attn(self.embed(idx)))  # (B, T, V)
        return logits, F.cross_entropy(logits, targets)  # targets of -100 are not scored


cfg = GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=2, n_embd=32)
model = CopyModel(cfg, np.random.default_rng(0))
data_rng = np.random.default_rng(0)


def copy_batch(batch_size=32):
    first = data_rng.integers(0, 10, size=(batch_size, 8))
    seq = np.concatenate([first, first], axis=1)  # 16 tokens: a random half, then its copy
    x, y = seq[:, :-1], seq[:, 1:].copy()
    y[:, :7] = -100  # the random half cannot be predicted: do not score it
    return x, y


def attention_maps(model, idx):
    # recompute the softmax weights from the model's own modules
    C, H = model.attn.n_embd, model.attn.n_head
    with npgpt.no_grad():
        qm, km, _ = model.attn.c_attn(model.embed(idx)).split(C, axis=2)
    Bm, Tm, _ = qm.shape
    qm = qm.numpy().reshape(Bm, Tm, H, C // H).transpose(0, 2, 1, 3)
    km = km.numpy().reshape(Bm, Tm, H, C // H).transpose(0, 2, 1, 3)
    s = np.where(causal_mask(Tm, Tm), -np.inf, qm @ km.swapaxes(-1, -2) / np.sqrt(C // H))
    return softmax_np(s)  # (B, H, T, T)


probe, _ = copy_batch(1)
maps_before = attention_maps(model, probe)
opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
losses = []
for _ in range(100):
    xb, yb = copy_batch()
    _, loss = model(xb, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"loss: step 0 {losses[0]:.3f} (log 10 = {np.log(10):.3f}),  step 99 {losses[-1]:.4f}")
maps_after = attention_maps(model, probe)

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
labels = [str(d) for d in probe[0]]
for ax, (title, m) in zip(
    axes,
    [
        ("random init, head 0", maps_before[0, 0]),
        ("random init, head 1", maps_before[0, 1]),
        ("trained, head 0", maps_after[0, 0]),
        ("trained, head 1", maps_after[0, 1]),
    ],
):
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("key (attended to)")
axes[0].set_ylabel("query (attending)")
plt.tight_layout()
plt.show()

# how much weight the scored queries (positions 7..14) put on the key 7 positions back
rows = np.arange(7, probe.shape[1])
print("mean weight on key i-7 for queries 7..14, per head:", maps_after[0][:, rows, rows - 7].mean(-1))
print("the same for the untrained model:                   ", maps_before[0][:, rows, rows - 7].mean(-1))
assert maps_after[0][:, rows, rows - 7].mean(-1).max() > 0.5, "a trained head should attend to the key 7 back"

# %% [markdown]
# Before training every row spreads its weight evenly over the past (row $i$ has $i+1$ cells of about
# $1/(i+1)$); the upper triangle is empty in both because of the causal mask. After training, the heads
# show a sharp diagonal stripe 7 positions back for the queries 7..14: exactly the token to copy. (The
# queries 0..6 were never scored, so what they attend to does not matter.) GPT-2 small has 144 heads
# (12 layers × 12 heads), some with patterns as clean as this one, most harder to read.

# %% [markdown]
# ### On real text: the heads of a model trained on Shakespeare
#
# `load_pretrained()` loads a small character-level GPT (4 layers, 4 heads, width 96) that
# `tools/make_pretrained.py` trained on the shipped Shakespeare corpus (its PROVENANCE.md records how).
# Below are the attention maps of its first and last layer on a line of text: row $t$ is what the
# character at position $t$ reads when it predicts the next one.
#
# **Predict, then run.** A character model has to find where the current word started and what the
# last few letters were. Which pattern do you expect in at least one head: a stripe just below the
# diagonal (the previous character), a vertical column (one special position every query reads), or
# a uniform spread?

# %%
from npgpt.pretrained import load_pretrained

shakespeare, chars = load_pretrained()
line = "ROMEO:\nBut soft, what light through yonder"
viz.plot_attention_maps(shakespeare, chars, line, layers=[0, shakespeare.config.n_layer - 1])

# %%
w_real = viz.attention_weights(shakespeare, chars.encode(line))  # (layers, heads, T, T)
t = np.arange(1, len(line))
print("mean weight per head on: itself | the previous character | position 0")
for layer in (0, w_real.shape[0] - 1):
    for head in range(w_real.shape[1]):
        m = w_real[layer, head]
        print(f"layer {layer} head {head}: {m[t, t].mean():.2f} | {m[t, t - 1].mean():.2f} | {m[t, 0].mean():.2f}")
# a uniform head would give each of the three about 1/(t+1) on average
print(f"uniform attention would give about {np.mean(1 / (t + 1)):.2f} to each")
assert np.allclose(w_real.sum(-1), 1) and np.triu(w_real, 1).max() == 0.0

# %% [markdown]
# Heads whose weight on the previous character (or on the token itself) is far above the uniform
# value have learned a positional job: look one step back. Others spread their weight by content,
# for instance over the letters of the current word. None of this was programmed: it is what
# gradient descent found useful for predicting the next character.

# %% [markdown]
# ## Check yourself
#
# 1. Show that the rows of the attention weights sum to 1 and that the upper triangle is exactly 0.
#
# <details><summary>Hint</summary>
#
# `maps_after.sum(-1)` is all ones (to rounding); `np.triu(maps_after[0, 0], 1).max()` is `0.0`, exactly,
# because $e^{-\infty} = 0$.
#
# </details>
#
# 2. Remove the $1/\sqrt{D}$ in `attention_np` and repeat the experiment of section 1 for $D = 256$:
#    what happens to the gradient of the softmax?
#
# <details><summary>Hint</summary>
#
# The scores have standard deviation 16, the weights are nearly one-hot, and $p_i(\delta_{ij} - p_j)$ is
# nearly zero everywhere: `dS` for a random `dP` is orders of magnitude smaller, so the queries and keys
# hardly learn.
#
# </details>
#
# 3. Why is `dS` zero on the masked entries even though $-\infty$ appears in the forward pass?
#
# <details><summary>Hint</summary>
#
# The backward only uses $P$, and $P = 0$ exactly on masked entries; $dS = P \odot (\dots)$ is therefore 0.
# The $-\infty$ itself is never multiplied by anything.
#
# </details>
#
# 4. In the copy task the targets of positions 0..6 are ignored but position 7 (the last random digit) is
#    scored. Why is its target predictable, and which key must its query attend to?
#
# <details><summary>Hint</summary>
#
# Its target is token 8 of the sequence, the first digit of the copy, which equals token 0: the query at
# position 7 attends to key 0, seven positions back like all the others.
#
# </details>
#
# 5. How many weight matrices does `CausalSelfAttention` have, and how many parameters for $C = 768$?
#
# <details><summary>Hint</summary>
#
# Two: `c_attn` ($C \times 3C$ and $3C$ biases) and `c_proj` ($C \times C$ and $C$): $4C^2 + 4C = 2{,}362{,}368$.
#
# </details>
#
# Assignment `lessons/a07_attention` asks you to write the backward of scaled dot-product attention.

# %% [markdown]
# ## Papers
#
# - Vaswani et al., 2017, *Attention Is All You Need*: scaled dot-product and multi-head attention,
#   the causal decoder mask. <https://arxiv.org/abs/1706.03762>
# - Radford et al., 2018, *Improving Language Understanding by Generative Pre-Training* (GPT-1): a
#   decoder-only transformer trained as a causal language model.
#   <https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf>
# - Dao et al., 2022, *FlashAttention*: the same attention computed in tiles without storing the
#   $T \times T$ weights; npgpt's fused op keeps the row log-sum-exp the same way.
#   <https://arxiv.org/abs/2205.14135>
