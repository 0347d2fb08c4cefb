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
# # 09 · The GPT block and model
#
# Notebooks 04-08 built the parts. Here they are assembled into GPT (`npgpt/nn/gpt.py`), the same
# architecture as GPT-2 with the same parameter names:
#
# $$\begin{aligned}
# x &= W_{te}[\text{idx}] + W_{pe}[0{:}T] && (B, T, C)\ \text{token + learned position embeddings}\\
# x &= x + \mathrm{attn}(\mathrm{LN}_1(x)) && \text{tokens exchange information}\\
# x &= x + \mathrm{MLP}(\mathrm{LN}_2(x)) && \text{each token is processed on its own}\\
# &\quad \text{(the two lines above, } L \text{ times)}\\
# \text{logits} &= \mathrm{LN}_f(x)\, W_{te}^\top && (B, T, V)\ \text{output head tied to the embedding}\\
# \text{loss} &= \mathrm{cross\_entropy}(\text{logits}, \text{next tokens})
# \end{aligned}$$
#
# This notebook goes through each design decision (residual stream, pre-LN, GELU MLP, weight tying,
# initialisation), counts the parameters of the published GPTs with the library's own counting code, and
# ends with a gradient check of a whole tiny GPT.

# %%
import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import GPT, MLP, PRESETS, Block, GPTConfig, init, parameter_count

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The block: a residual stream with two pre-LN sublayers
#
# Think of $x$ as a **residual stream** running from the embeddings to the head. Each sublayer reads a
# *normalised copy* of the stream and *adds* its output back:
# $$x \leftarrow x + \mathrm{attn}(\mathrm{LN}_1(x)), \qquad x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x)).$$
#
# * **Residual connections.** $\partial (x + f(x))/\partial x = I + \partial f/\partial x$: the identity
#   gives the gradient an unobstructed path from the loss to the embeddings through every layer, which
#   is what lets deep stacks train.
# * **Pre-LN.** GPT-2 and GPT-3 normalise the input of each sublayer and never the stream itself, and
#   add one final `ln_f` before the head. GPT-1 (like the original Transformer) was *post-LN*,
#   $x \leftarrow \mathrm{LN}(x + f(x))$, which puts a normalisation on the gradient path of every layer and
#   is harder to train deep. npgpt builds the pre-LN model.
#
# Below, a `Block` is rebuilt from its four sub-modules.

# %%
cfg = GPTConfig(vocab_size=32, block_size=8, n_layer=2, n_head=2, n_embd=16)
block = Block(cfg, rng=0, dtype=np.float64)
print(block)
x = npgpt.tensor(rng.standard_normal((2, 8, 16)))
with npgpt.no_grad():
    after_attn = x + block.attn(block.ln_1(x))
    by_hand = after_attn + block.mlp(block.ln_2(after_attn))
    print("max |Block(x) - by hand| =", np.abs(block(x).numpy() - by_hand.numpy()).max())

# %% [markdown]
# The whole model and one block as a diagram (`npgpt.viz.draw_transformer`); the labels are the names
# of npgpt's modules, so each box can be found in `npgpt/nn/`.

# %%
from npgpt import viz

viz.draw_transformer(n_layer=cfg.n_layer)

# %% [markdown]
# ### Pre-LN versus post-LN, by experiment
#
# Where the LayerNorm sits changes how the gradient reaches each layer. Below, the same stack of 12
# blocks is run both ways on random input, with the original Transformer's initialisation (every
# weight matrix $N(0, 2/(n_{in} + n_{out}))$, so that each sublayer's output is as large as its input),
# and one backward pass measures the gradient norm of each block's four weight matrices.
#
# **Predict, then run.** In which arrangement do the blocks near the output get the largest gradients?

# %%
from npgpt.nn import LayerNorm


def layer_grad_norms(post_ln, n_layer=12, width=64, seed=0):
    cfg_ln = GPTConfig(vocab_size=8, block_size=16, n_layer=n_layer, n_head=4, n_embd=width)
    init_rng = np.random.default_rng(seed)
    blocks = [Block(cfg_ln, rng=init_rng, dtype=np.float64) for _ in range(n_layer)]
    for b in blocks:
        for lin in (b.attn.c_attn, b.attn.c_proj, b.mlp.c_fc, b.mlp.c_proj):
            w = lin.weight.data
            w[...] = init_rng.standard_normal(w.shape) * np.sqrt(2.0 / sum(w.shape))
    h = npgpt.tensor(np.random.default_rng(1).standard_normal((2, 16, width)))
    for b in blocks:
        if post_ln:  # GPT-1 and the original Transformer: normalise the stream after each addition
            h = b.ln_1(h + b.attn(h))
            h = b.ln_2(h + b.mlp(h))
        else:  # GPT-2 and GPT-3: normalise each sublayer's input, the stream never
            h = h + b.attn(b.ln_1(h))
            h = h + b.mlp(b.ln_2(h))
    if not post_ln:
        h = LayerNorm(width, dtype=np.float64)(h)  # ln_f
    u = np.random.default_rng(2).standard_normal(h.shape)
    ((h * npgpt.tensor(u)).sum() / u.size).backward()
    mats = lambda b: (b.attn.c_attn.weight, b.attn.c_proj.weight, b.mlp.c_fc.weight, b.mlp.c_proj.weight)  # noqa: E731
    return np.array([np.sqrt(sum((w.grad**2).sum() for w in mats(b))) for b in blocks])


pre_norms, post_norms = layer_grad_norms(False), layer_grad_norms(True)
plt.figure(figsize=(6, 3.5))
plt.plot(pre_norms, "o-", label="pre-LN (GPT-2, GPT-3)")
plt.plot(post_norms, "s-", label="post-LN (GPT-1, original Transformer)")
plt.xlabel("block (0 = next to the embeddings)")
plt.ylabel("gradient norm of its weights")
plt.title("gradient norm per layer at initialisation")
plt.legend()
plt.show()
print("pre-LN :", pre_norms.round(3))
print("post-LN:", post_norms.round(3))
assert post_norms[-1] > 1.5 * pre_norms[-1] and pre_norms[0] > 1.5 * pre_norms[-1]

# %% [markdown]
# In post-LN the blocks near the output keep large gradients (Xiong et al., 2020, prove that the last
# layer's stays of the same size however deep the stack is), so the first updates at a full learning
# rate are large there: post-LN needs a careful learning-rate **warmup** to train at all. In pre-LN
# the identity path carries the gradient past every normalisation, the gradient norms fall gently
# with depth, and the last layers' shrink like $1/\sqrt{L}$: deep pre-LN stacks train with little or no
# warmup. (With GPT-2's own initialisation, small weights and residual projections scaled by
# $1/\sqrt{2L}$, the sublayers start out nearly silent and both arrangements give almost the same
# flat profile at step 0; the difference appears as the weights grow.)

# %% [markdown]
# `GPTConfig(norm="post")` builds the post-LN GPT (GPT-1's arrangement, no `ln_f`) and
# `GPTConfig(norm="none")` one with no LayerNorm at all; notebook 10 trains the three side by side
# and measures where each one's gradients go.

# %% [markdown]
# ## 2. The MLP and GELU
#
# The MLP widens each token to $4C$ features, applies a nonlinearity, and projects back:
# $\mathrm{MLP}(x) = \mathrm{GELU}(x W_{fc}^\top + b_{fc})\, W_{proj}^\top + b_{proj}$. Attention only mixes
# tokens (it is linear in the values); the MLP is where most of the per-token computation happens, and
# it holds two thirds of a block's weights.
#
# GELU weights its input by the probability that a standard normal variable is below it,
# $\mathrm{GELU}(x) = x\,\Phi(x)$. GPT-2 uses the tanh approximation
# $$\mathrm{GELU}(x) \approx \tfrac{1}{2}x\Big(1 + \tanh\!\big(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\big)\Big),$$
# and so does npgpt (`F.gelu(x, approximate="tanh")`); loading GPT-2's weights (notebook 13) needs the
# same form.

# %%
xs = np.linspace(-4, 4, 801)
t = npgpt.tensor(xs)
g_tanh = F.gelu(t, approximate="tanh").numpy()
g_exact = F.gelu(t, approximate="none").numpy()
print(f"max |tanh form - exact erf form| on [-4, 4]: {np.abs(g_tanh - g_exact).max():.1e}")
plt.figure(figsize=(5, 3.5))
plt.plot(xs, np.maximum(xs, 0), "--", label="ReLU")
plt.plot(xs, g_tanh, label="GELU (tanh form, GPT-2)")
plt.plot(xs, g_exact, ":", label="GELU (exact)")
plt.legend()
plt.title("GELU: a smooth ReLU that dips below zero")
plt.show()
mlp = MLP(cfg, rng=0, dtype=np.float64)
print(mlp)

# %% [markdown]
# ### The GELU backward, derived
#
# Write $u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)$, so $\mathrm{GELU}(x) = \tfrac12 x (1 + \tanh u)$. The
# product rule and $\tanh' = 1 - \tanh^2$ give
# $$\frac{d}{dx}\mathrm{GELU}(x) = \tfrac12 (1 + \tanh u) + \tfrac12 x\,(1 - \tanh^2 u)\,\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2),$$
# and the backward multiplies the upstream gradient by it. npgpt's `GELU.backward`
# (`npgpt/ops/elementwise.py`) recomputes $\tanh u$ instead of saving it (one array less to keep alive
# between the forward and the backward pass).
#
# ### Your turn: the GELU derivative
#
# Write `my_gelu_grad(x)`: the derivative above, elementwise, as a NumPy array. The next cell compares
# it with what npgpt's backward gives for an upstream gradient of ones.
#
# *Hint:* compute `u` and `th = np.tanh(u)` first; the formula is then one line.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_gelu_grad(x):
#     c = np.sqrt(2 / np.pi)
#     th = np.tanh(c * (x + 0.044715 * x**3))
#     return 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * c * (1 + 3 * 0.044715 * x**2)
# ```
#
# </details>


# %%
def my_gelu_grad(x):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    c = np.sqrt(2 / np.pi)
    th = np.tanh(c * (x + 0.044715 * x**3))
    return 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * c * (1 + 3 * 0.044715 * x**2)


# %%
from npgpt.exercises import check_array

xg = npgpt.tensor(np.linspace(-5, 5, 41), requires_grad=True)
F.gelu(xg, approximate="tanh").sum().backward()
check_array(
    "my_gelu_grad",
    my_gelu_grad(xg.numpy()),
    xg.grad,
    atol=1e-12,
    hint="product rule: d/dx [x * s(x)] = s(x) + x * s'(x)",
)

# %% [markdown]
# ### Dropout: training versus evaluation, and its backward
#
# GPT-1 regularised with **dropout**: its paper uses "residual, embedding, and attention dropouts with a
# rate of 0.1". The GPT-2 paper states no dropout rate and OpenAI's released GPT-2 code has no dropout
# layer; the 0.1 in HuggingFace's `GPT2Config` (`resid_pdrop`, `embd_pdrop`, `attn_pdrop`) is that
# library's default, not a documented GPT-2 setting. npgpt's `dropout` puts it in the same three places,
# and it is 0 unless you ask. While training, each entry is zeroed with probability $p$ and the
# survivors are scaled by $1/(1-p)$ ("inverted" dropout), so the expected value is unchanged:
# $E[y_i] = (1-p) \cdot x_i / (1-p) = x_i$. At evaluation time dropout is the identity, with no rescaling
# needed. The backward uses the same mask: $\partial L / \partial x_i = g_i\, m_i / (1-p)$, zero where the
# entry was dropped. `model.train()` and `model.eval()` switch every `Dropout` module at once.

# %%
from npgpt.nn import Dropout

drop = Dropout(0.25, rng=0)
xd = npgpt.tensor(np.ones((4, 8)), requires_grad=True)
yd = drop(xd)
yd.backward(np.full((4, 8), 2.0))
print("train mode output:\n", yd.numpy())
print("its gradient (upstream 2): nonzero exactly where the output is:", np.array_equal(xd.grad != 0, yd.numpy() != 0))
print("gradient values:", np.unique(xd.grad), "= 2 * {0, 1/(1 - 0.25)}")
drop.eval()
print("eval mode: the identity:", np.array_equal(drop(xd).numpy(), xd.numpy()))
big = Dropout(0.25, rng=1)(npgpt.tensor(np.ones(1_000_000))).numpy()
print(f"mean over a million entries in train mode: {big.mean():.4f} (expected value 1)")
assert np.isclose(big.mean(), 1.0, atol=0.01)

# %% [markdown]
# ## 3. Weight tying
#
# The output head turns a $C$-vector into $V$ logits, so it needs a $V \times C$ matrix, the same shape as
# the token embedding. GPT-2 uses **the same matrix** for both (Press and Wolf, 2017): token $v$'s logit is
# the dot product of the final hidden state with $v$'s own embedding. In npgpt the head is literally
# `F.linear(x, wte)`; there is no separate `lm_head` parameter. For GPT-2 small this saves
# $V C = 50257 \times 768 \approx 38.6$M parameters, almost a third of the model.
#
# The shared matrix gets gradient from both uses. The rows of tokens that are *not in the input* cannot
# get any through the embedding lookup, yet they do get gradient, through the head:

# %%
model = GPT(cfg, rng=0, dtype=np.float64)
print(
    "parameters with 'wte' or 'head' in the name:",
    [n for n, _ in model.named_parameters() if "wte" in n or "head" in n],
)
idx = np.array([[1, 2, 3, 4, 5, 6, 7, 8]])
targets = np.array([[2, 3, 4, 5, 6, 7, 8, 9]])
_, loss = model(idx, targets)
loss.backward()
g = model.transformer.wte.weight.grad
absent = [v for v in range(cfg.vocab_size) if v not in idx]
print(f"token 20 is not in the input; |grad of its row| = {np.linalg.norm(g[20]):.2e} (from the head)")
print("every absent token's row has gradient:", bool(np.all(np.linalg.norm(g[absent], axis=1) > 0)))

# %% [markdown]
# What the shared matrix holds after training: the token embeddings of the small model that
# `npgpt.pretrained.load_pretrained()` loads (a character GPT trained on the shipped Shakespeare),
# projected on their two main directions (PCA). Each point is one character.
#
# **Predict, then run.** Nothing told the model which characters are letters, digits or capitals.
# Will similar characters end up close together?

# %%
from npgpt.pretrained import load_pretrained

shakespeare, chars = load_pretrained()
viz.plot_embedding_pca(shakespeare, chars)

# %%
emb = shakespeare.transformer.wte.weight.numpy().astype(np.float64)
unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
cos = unit @ unit.T
np.fill_diagonal(cos, -np.inf)
nearest = cos.argmax(axis=1)  # each character's most similar other character
glyphs = [chars.decode([i]) for i in range(len(emb))]
kind = np.array(["lower" if c.islower() else "upper" if c.isupper() else "other" for c in glyphs])
same = np.mean(kind[nearest] == kind)
chance = np.mean([(np.sum(kind == k) - 1) / (len(kind) - 1) for k in kind])
for c in "aeAE1.":
    print(f"nearest to {c!r}: {glyphs[nearest[chars.encode(c)[0]]]!r}")
print(f"nearest neighbour of the same kind (lower / upper / other): {same:.0%} (by chance: {chance:.0%})")
assert same > chance + 0.3

# %% [markdown]
# Lower-case letters, capitals, and digits with punctuation form separate groups: characters that
# predict (and are predicted by) similar contexts get similar vectors, because the same row serves as
# the input embedding and as the output direction of its logit.

# %% [markdown]
# ## 4. Initialisation (GPT-2's scheme)
#
# `GPT(config, rng=seed)` draws every Linear and Embedding weight from $N(0, 0.02^2)$, sets biases to 0 and
# LayerNorm gains to 1, and draws the two **residual projections** of each block (`attn.c_proj`,
# `mlp.c_proj`) from $N(0, (0.02/\sqrt{2L})^2)$. The reason: the stream is a sum of $2L$ sublayer outputs
# (two per block). If each adds independent noise of variance $\sigma^2$, the stream's variance grows like
# $2L\sigma^2$; scaling the projections by $1/\sqrt{2L}$ keeps the total independent of depth.
#
# Measured on a 24-layer model: the standard deviation of the residual stream after each block, with
# GPT-2's scaling and with all projections at 0.02.

# %%
deep = GPTConfig(vocab_size=50, block_size=32, n_layer=24, n_head=4, n_embd=64)
idx_deep = np.random.default_rng(1).integers(0, 50, (8, 32))


def stream_std(model):
    out = []
    with npgpt.no_grad():
        h = model.transformer.wpe(F.embedding(idx_deep, model.transformer.wte.weight))
        out.append(h.numpy().std())
        for blk in model.transformer.h:
            h = blk(h)
            out.append(h.numpy().std())
    return np.array(out)


m = GPT(deep, rng=0)
print(
    "std of attn.c_proj weights:",
    m.transformer.h[0].attn.c_proj.weight.numpy().std(),
    " expected 0.02/sqrt(48) =",
    0.02 / np.sqrt(48),
)
scaled = stream_std(m)
reinit = np.random.default_rng(0)
for blk in m.transformer.h:  # undo the 1/sqrt(2L): plain N(0, 0.02^2) everywhere
    init.normal_(blk.attn.c_proj.weight, 0.02, reinit)
    init.normal_(blk.mlp.c_proj.weight, 0.02, reinit)
unscaled = stream_std(m)
plt.figure(figsize=(5, 3.5))
plt.plot(scaled, marker=".", label="GPT-2 init: 0.02 / sqrt(2L)")
plt.plot(unscaled, marker=".", label="all projections 0.02")
plt.xlabel("after block")
plt.ylabel("std of the residual stream")
plt.legend()
plt.show()
print(
    f"growth over 24 blocks: {scaled[-1] / scaled[0]:.2f}x with the scaling, {unscaled[-1] / unscaled[0]:.2f}x without"
)

# %% [markdown]
# ## 5. Counting parameters
#
# Per block, with $C$ = `n_embd` and biases:
#
# | part | parameters |
# |---|---|
# | `ln_1`, `ln_2` | $2 \times 2C$ |
# | `attn.c_attn` ($q, k, v$ in one matrix) | $3C^2 + 3C$ |
# | `attn.c_proj` | $C^2 + C$ |
# | `mlp.c_fc` | $4C^2 + 4C$ |
# | `mlp.c_proj` | $4C^2 + C$ |
# | **block** | $12C^2 + 13C$ |
#
# plus the token embedding $VC$ (shared with the head), the learned positions $TC$, and the final
# LayerNorm $2C$. `npgpt.nn.parameter_count` does this arithmetic without allocating anything. First,
# it agrees with a model that is actually built:

# %%
small = GPTConfig(vocab_size=100, block_size=16, n_layer=3, n_head=4, n_embd=32)
built = sum(p.data.size for p in GPT(small, rng=0).parameters())
C = small.n_embd
formula = small.vocab_size * C + small.block_size * C + small.n_layer * (12 * C**2 + 13 * C) + 2 * C
print(f"allocated {built:,}   parameter_count {parameter_count(small):,}   formula {formula:,}")

# %% [markdown]
# Now the published models, from the configs in `PRESETS` (vocabulary $V$, context $T$, layers $L$, heads
# $H$, width $C$). GPT-1 was post-LN without a final LayerNorm; `arch="gpt1"` counts it as it was.

# %%
print(f"{'model':12s} {'V':>6} {'T':>5} {'L':>3} {'H':>3} {'C':>6} {'parameters':>17}")
counts = {}
for name, p in PRESETS.items():
    cfg_p = GPTConfig.preset(name)
    counts[name] = parameter_count(cfg_p, arch="gpt1" if name == "gpt1" else "gpt2")
    print(
        f"{name:12s} {p['vocab_size']:6d} {p['block_size']:5d} {p['n_layer']:3d} {p['n_head']:3d} "
        f"{p['n_embd']:6d} {counts[name]:17,}"
    )
print()
print(f"GPT-1                : {counts['gpt1'] / 1e6:.1f}M   (the paper: about 117M)")
print(f"GPT-2 small          : {counts['gpt2']:,}  (exactly 124,439,808)")
print(f"GPT-2 (gpt2-xl)      : {counts['gpt2-xl'] / 1e9:.2f}B  (the paper: 1.5B)")
print(f"GPT-3                : {counts['gpt3'] / 1e9:.1f}B  (the paper: 175B)")
assert counts["gpt2"] == 124_439_808

# %%
# where GPT-2 small's parameters are
g2 = GPTConfig.preset("gpt2")
C, V, T, L = g2.n_embd, g2.vocab_size, g2.block_size, g2.n_layer
parts = {
    "token embedding (= head)": V * C,
    "positions": T * C,
    "12 blocks": L * (12 * C**2 + 13 * C),
    "final LayerNorm": 2 * C,
}
for k_, n in parts.items():
    print(f"{k_:26s} {n:12,}  {100 * n / counts['gpt2']:5.1f}%")
print(f"{'total':26s} {sum(parts.values()):12,}")

# %% [markdown]
# ### FLOPs per token, and the 6·N·D rule
#
# A matrix product of a $(1 \times n)$ row by an $(n \times m)$ matrix costs $2nm$ floating-point
# operations (a multiply and an add per weight). Every weight of a GPT's linear layers is used once per
# token, so a forward pass costs about $2N$ FLOPs per token, with $N$ = the parameters **outside the
# embeddings**, as Kaplan et al. (2020) define it (an embedding row is looked up, not multiplied),
# plus the attention scores and weighted sums, about $4 \cdot n_{layer} \cdot T \cdot C$ (two $T$-long dot
# products of width $C$ per layer). The backward costs about twice the forward (a gradient for the
# input *and* one for the weight of every product), so training costs about
# $$\text{FLOPs} \approx 6 \cdot N \cdot D \qquad (D = \text{tokens trained on}).$$
#
# **Predict, then run.** GPT-3 has $175 \times 10^9$ parameters in all, $N \approx 174 \times 10^9$ of
# them outside the embeddings (the $N$ used below: $12 \cdot n_{layer} \cdot C^2$ with 96 layers of width
# 12,288; the embeddings are 0.4%), and was trained on $D = 300 \times 10^9$ tokens. How many FLOPs is that, and how long on one GPU sustaining
# $10^{14}$ FLOP/s (100 TFLOP/s)?

# %%
gpt2 = GPTConfig(**PRESETS["gpt2"])
C2, L2, T2 = gpt2.n_embd, gpt2.n_layer, gpt2.block_size
per_block = 2 * (C2 * 3 * C2 + C2 * C2 + C2 * 4 * C2 + 4 * C2 * C2)  # c_attn, c_proj, c_fc, mlp.c_proj
matmul_flops = L2 * per_block + 2 * C2 * gpt2.vocab_size  # blocks, then the tied head
attention_flops = L2 * 4 * T2 * C2
n_nonembed = L2 * 12 * C2 * C2
print(f"GPT-2 small, forward FLOPs per token: {matmul_flops + attention_flops:.3e}")
print(
    f"  2 x non-embedding weights = {2 * n_nonembed:.3e}, head {2 * C2 * gpt2.vocab_size:.3e}, attention {attention_flops:.3e}"
)
g3 = GPTConfig.preset("gpt3")
N3, D3 = 12 * g3.n_layer * g3.n_embd**2, 300e9  # N without the embeddings, as in the text
print(f"GPT-3: N (non-embedding) = {N3 / 1e9:.1f}B of {counts['gpt3'] / 1e9:.1f}B parameters")
flops = 6 * N3 * D3
print(f"GPT-3: 6 N D = {flops:.2e} FLOPs = {flops / (1e15 * 86400):,.0f} petaflop/s-days")
print(f"on one GPU at 1e14 FLOP/s: {flops / 1e14 / 86400 / 365:,.0f} years")
assert 3.0e23 < flops < 3.3e23  # the GPT-3 paper reports 3.14e23 FLOPs (3,640 petaflop/s-days)

# %% [markdown]
# ## 6. How a GPT is trained, and what ChatGPT adds
#
# **GPT is trained end to end as a causal language model.** One loss, the cross-entropy of predicting token
# $t+1$ from tokens $0 \dots t$ at every position (notebooks 04 and 07), is backpropagated through the
# whole network, and every parameter of every layer is updated together at each step. It is not trained
# layer by layer, and it is not a masked autoencoder (that is BERT). GPT-1 was then fine-tuned per task;
# from GPT-2 on, tasks are posed as text to continue.
#
# One backward pass reaches every parameter:

# %%
model = GPT(cfg, rng=0, dtype=np.float64)
idx = np.random.default_rng(2).integers(0, cfg.vocab_size, (4, 8))
targets = np.roll(idx, -1, axis=1)  # any next-token targets will do here
logits, loss = model(idx, targets)
print(f"logits {logits.shape}; initial loss {loss.item():.4f} vs log V = {np.log(cfg.vocab_size):.4f}")
loss.backward()
n_with_grad = sum(1 for p in model.parameters() if p.grad is not None and np.any(p.grad != 0))
print(f"parameters with a nonzero gradient after one backward: {n_with_grad} of {len(list(model.parameters()))}")

# %% [markdown]
# **ChatGPT** is not simply a bigger GPT-3: it is a GPT-3.5 model tuned further with supervised
# fine-tuning and RLHF. Notebook 15, *from GPT to ChatGPT*, gives the recipe and takes its steps on npgpt.
#
# ## 7. A gradient check of a whole GPT
#
# The final check: every parameter of a tiny two-layer GPT (embeddings, attention, MLP, LayerNorms, the
# tied head) against finite differences of the loss, in float64, dropout off.

# %%
tiny = GPTConfig(vocab_size=7, block_size=6, n_layer=2, n_head=2, n_embd=8)
model = GPT(tiny, rng=0, dtype=np.float64)
idx = np.random.default_rng(0).integers(0, 7, (2, 5))
targets = np.random.default_rng(1).integers(0, 7, (2, 5))
named = list(model.named_parameters())
report = npgpt.gradcheck(lambda: model(idx, targets)[1], [], params=[p for _, p in named])
print(f"{'parameter':38s} {'shape':>8s} {'max abs err':>12s} {'max rel err':>12s}  verdict")
for (name, p), r in zip(named, report.inputs):
    print(f"{name:38s} {p.shape!s:>8s} {r.max_abs_err:12.1e} {r.max_rel_err:12.1e}  {r.verdict}")
print(f"\n{sum(r.checked for r in report.inputs)} entries checked: gradcheck {'passed' if report.ok else 'FAILED'}")
assert report.ok

# %% [markdown]
# Relative errors between $10^{-7}$ and $10^{-4}$ ("acceptable") are expected here rather than
# $10^{-9}$: with GPT-2's small initial weights many gradients are only about $10^{-6}$, and the finite
# difference's rounding noise (about $10^{-10}$ absolute) is a larger fraction of such a number. The
# absolute errors are all at that noise level; a wrong backward would show errors of the size of the
# gradients themselves.

# %% [markdown]
# ## Check yourself
#
# 1. Derive $12C^2 + 13C$ per block from the shapes of the layers. How would the count change without
#    biases (`bias=False`)?
#
# <details><summary>Hint</summary>
#
# $(3C^2 + 3C) + (C^2 + C) + (4C^2 + 4C) + (4C^2 + C) + 2\cdot 2C$. Without biases only the LayerNorm
# gains remain besides the matrices: $12C^2 + 2C$.
#
# </details>
#
# 2. How many parameters would GPT-2 small have with an untied output head?
#
# <details><summary>Hint</summary>
#
# $124{,}439{,}808 + 50257 \cdot 768 = 163{,}037{,}184$.
#
# </details>
#
# 3. With $L = 48$ (gpt2-xl), what standard deviation do the residual projections start with?
#
# <details><summary>Hint</summary>
#
# $0.02/\sqrt{96} \approx 0.0020$.
#
# </details>
#
# 4. Build a `GPTConfig(..., pos_encoding="rope")` and compare its `parameter_count` with the learned
#    one. Where does the difference come from?
#
# <details><summary>Hint</summary>
#
# RoPE has no position table: the difference is `block_size * n_embd`.
#
# </details>
#
# 5. Check that a fresh model's loss is close to $\log V$ for a few seeds. Why is it, given the
#    initialisation?
#
# <details><summary>Hint</summary>
#
# `ln_f` gives the final hidden state unit scale, and the head's weights are $N(0, 0.02^2)$, so every
# logit is about $0.02\sqrt{C}$ in size: nearly equal logits, nearly uniform probabilities, loss near
# $\log V$, the uniform guess of notebook 05.
#
# </details>

# %% [markdown]
# ## Papers
#
# - Radford et al., 2018, *Improving Language Understanding by Generative Pre-Training* (GPT-1).
#   <https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf>
# - Radford et al., 2019, *Language Models are Unsupervised Multitask Learners* (GPT-2): pre-LN, the
#   final LayerNorm, residual projections scaled by $1/\sqrt{N}$.
#   <https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf>
# - Brown et al., 2020, *Language Models are Few-Shot Learners* (GPT-3): 175B parameters, 300B tokens,
#   the compute table. <https://arxiv.org/abs/2005.14165>
# - Ba, Kiros and Hinton, 2016, *Layer Normalization*. <https://arxiv.org/abs/1607.06450>
# - Xiong et al., 2020, *On Layer Normalization in the Transformer Architecture*: pre-LN versus post-LN
#   and the warmup. <https://arxiv.org/abs/2002.04745>
# - Hendrycks and Gimpel, 2016, *Gaussian Error Linear Units (GELUs)*. <https://arxiv.org/abs/1606.08415>
# - Srivastava et al., 2014, *Dropout: A Simple Way to Prevent Neural Networks from Overfitting*, JMLR 15.
#   <https://jmlr.org/papers/v15/srivastava14a.html>
# - Kaplan et al., 2020, *Scaling Laws for Neural Language Models*: the $6ND$ approximation.
#   <https://arxiv.org/abs/2001.08361>
# - Ouyang et al., 2022, *Training language models to follow instructions with human feedback*
#   (InstructGPT: SFT, a reward model, PPO). <https://arxiv.org/abs/2203.02155>
# - Rafailov et al., 2023, *Direct Preference Optimization*. <https://arxiv.org/abs/2305.18290>
