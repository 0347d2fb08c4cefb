# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · The GPT block and model
#
# Notebooks 04-07 built the parts. Here they are assembled into GPT (`npgpt/nn/gpt.py`), the same
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
# and so does npgpt (`F.gelu(x, approximate="tanh")`); loading GPT-2's weights (notebook 11) needs the
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
# **ChatGPT** is not simply a bigger GPT-3. It is a GPT-3.5 model (the series that followed GPT-3, trained on text and code)
# fine-tuned in the way OpenAI described for InstructGPT (Ouyang et al., 2022): first **supervised
# fine-tuning** on examples of good answers written by people, then **reinforcement learning from human
# feedback** (RLHF): a reward model is trained on human rankings of answers, and the language model is
# optimised against it. Notebook 14, *from GPT to ChatGPT*, takes these steps on npgpt.
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
# $\log V$.
#
# </details>
