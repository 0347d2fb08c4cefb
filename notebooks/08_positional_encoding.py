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
# # 08 · Positional encoding
#
# Attention (notebook 07) compares every token with every other token by dot products and then averages.
# Nothing in that computation knows *where* a token sits: shuffle the tokens and the outputs are
# shuffled the same way. "Dog bites man" and "man bites dog" would look alike. A transformer therefore
# injects position explicitly. Three ways, all in `npgpt/nn/positional.py`:
#
# | method | where | learned? | used by |
# |---|---|---|---|
# | sinusoidal table added to the embeddings | input | no, fixed formula | the original Transformer (2017) |
# | learned table added to the embeddings | input | yes, one vector per position | GPT-1, GPT-2, GPT-3 |
# | rotary (RoPE): rotate queries and keys | inside attention | no | GPT-NeoX, LLaMA and most recent models |

# %%
import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding, sinusoidal_table

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Attention alone ignores order
#
# Attention without a mask over five token vectors, then over the same five in a different order: each
# token gets exactly the same output wherever it stands (the outputs are permuted along with the inputs).

# %%
x = rng.standard_normal((1, 1, 5, 4))  # (B, H, T, D): five tokens
perm = np.array([3, 0, 4, 1, 2])
out = F.scaled_dot_product_attention(*(npgpt.tensor(x),) * 3, causal=False).numpy()
xp = x[:, :, perm]
out_perm = F.scaled_dot_product_attention(*(npgpt.tensor(xp),) * 3, causal=False).numpy()
print("max |out[perm] - out(permuted input)| =", np.abs(out[:, :, perm] - out_perm).max())

# %% [markdown]
# (GPT's causal mask breaks the symmetry a little, since a token can tell how many tokens precede it,
# but that is a weak signal; every GPT adds explicit positions.)
#
# ## 2. Sinusoidal encoding (fixed)
#
# Vaswani et al. (2017) add to the embedding of the token at position $pos$ the vector
# $$PE(pos, 2i) = \sin\!\Big(\frac{pos}{10000^{2i/d}}\Big), \qquad PE(pos, 2i+1) = \cos\!\Big(\frac{pos}{10000^{2i/d}}\Big),$$
# for $i = 0, \dots, d/2 - 1$: **sine on the even features, cosine on the odd ones**, each pair sharing one
# frequency $\omega_i = 10000^{-2i/d}$. The frequencies fall geometrically from 1 (wavelength $2\pi$
# positions) to about $1/10000$ (wavelength about 63,000): fast features tell neighbours apart, slow
# ones encode coarse position, like the hands of a clock. **Nothing is learned**: the table is a fixed
# function of $pos$ and $d$.

# %%
T, d = 64, 64
pe = sinusoidal_table(T, d)  # the library's table, (T, d) float64

# the formula, one entry at a time
loop = np.zeros((T, d))
for pos in range(T):
    for i in range(d // 2):
        angle = pos / 10000 ** (2 * i / d)
        loop[pos, 2 * i] = np.sin(angle)
        loop[pos, 2 * i + 1] = np.cos(angle)
print("max |sinusoidal_table - formula| =", np.abs(pe - loop).max())

module = SinusoidalPositionalEncoding(T, d, dtype=np.float64)
print("parameters of SinusoidalPositionalEncoding:", list(module.parameters()))

# %% [markdown]
# ### Your turn: the table without loops
#
# The loop above computes the $T \times d$ entries one at a time. Write `my_sinusoidal_table(T, d)`:
# the same `(T, d)` table from array operations only. The next cell compares it with npgpt's
# `sinusoidal_table` for two sizes and names the first entry that is off.
#
# *Hint:* the angles $pos\,\omega_i$ form a `(T, d/2)` array, a column of positions times a row of
# frequencies (notebook 00's broadcasting). The sine features and the cosine features are two
# strided slices of the last axis, and you can assign to a slice.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_sinusoidal_table(T, d):
#     omega = 10000.0 ** (-np.arange(0, d, 2) / d)  # (d/2,): omega_i = 10000^(-2i/d), 2i = 0, 2, 4, ...
#     angle = np.arange(T)[:, None] * omega          # (T, 1) * (d/2,) -> (T, d/2)
#     pe = np.zeros((T, d))
#     pe[:, 0::2] = np.sin(angle)                    # even features
#     pe[:, 1::2] = np.cos(angle)                    # odd features
#     return pe
# ```
#
# </details>


# %%
def my_sinusoidal_table(T, d):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    angle = np.arange(T)[:, None] * omega
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


# %%
from npgpt.exercises import check_array

for size in [(T, d), (10, 6)]:
    check_array(
        f"my_sinusoidal_table{size}",
        my_sinusoidal_table(*size),
        sinusoidal_table(*size),
        hint="feature 2i is sin(pos * omega_i) and 2i + 1 is cos(pos * omega_i), with omega_i = 10000^(-2i/d): "
        "the exponent uses the even feature index 2i, not i.",
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
im = axes[0].imshow(pe, cmap="RdBu", aspect="auto", vmin=-1, vmax=1)
axes[0].set_xlabel("feature (even: sin, odd: cos)")
axes[0].set_ylabel("position")
axes[0].set_title("sinusoidal table PE[pos, feature]")
fig.colorbar(im, ax=axes[0])
for f in [0, 1, 6, 20, 40]:
    axes[1].plot(pe[:, f], label=f"feature {f}")
axes[1].set_xlabel("position")
axes[1].set_title("a few columns: frequency falls with the feature index")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Why sines and cosines: relative positions are linear maps
#
# For each pair $(\sin a, \cos a)$ with $a = pos\,\omega_i$, moving $k$ positions is a fixed rotation:
# $$\begin{pmatrix}\sin(a + k\omega_i)\\ \cos(a + k\omega_i)\end{pmatrix}
# = \begin{pmatrix}\cos k\omega_i & \sin k\omega_i\\ -\sin k\omega_i & \cos k\omega_i\end{pmatrix}
# \begin{pmatrix}\sin a\\ \cos a\end{pmatrix},$$
# the same matrix for every $pos$. So "the token $k$ places back" is a linear function of the encoding,
# which a linear layer can learn; and the dot product $PE(p)\cdot PE(q) = \sum_i \cos((p-q)\omega_i)$
# depends only on the distance $p - q$ (the banded picture below).

# %%
k = 3
M = np.zeros((d, d))
for i in range(d // 2):
    w = 1.0 / 10000 ** (2 * i / d)
    c, s = np.cos(k * w), np.sin(k * w)
    M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, s], [-s, c]]
print(f"max |PE[pos + {k}] - M_{k} PE[pos]| over all pos:", np.abs(pe[k:] - pe[:-k] @ M.T).max())

plt.figure(figsize=(4.5, 4))
plt.imshow(pe @ pe.T, cmap="viridis")
plt.title("PE(p) . PE(q): depends only on p - q")
plt.xlabel("q")
plt.ylabel("p")
plt.colorbar()
plt.show()

# %% [markdown]
# ## 3. Learned positions (GPT-1, GPT-2, GPT-3)
#
# GPT-1, GPT-2 and GPT-3 do not use the sinusoidal table. They learn it: a Parameter `wpe` of shape
# `(block_size, C)`, one vector per position, initialised to small random numbers and trained with
# everything else. The scale differs between codebases: OpenAI's GPT-2 code draws the position table
# from $N(0, 0.01^2)$ (and the token table from $N(0, 0.02^2)$); HuggingFace's GPT-2 and nanoGPT use
# $N(0, 0.02^2)$ for both, and so does npgpt (`init_std=0.02`). A fresh table is noise; training gives it structure. The price: there
# is no row for positions beyond `block_size`, so the model cannot be run on longer contexts.

# %%
wpe = LearnedPositionalEmbedding(block_size=64, n_embd=64, rng=0, dtype=np.float64)
print("parameters:", [(name, p.shape) for name, p in wpe.named_parameters()])
plt.figure(figsize=(5, 3.5))
plt.imshow(wpe.weight.numpy(), cmap="RdBu", aspect="auto")
plt.title("a freshly initialised learned table: noise")
plt.xlabel("feature")
plt.ylabel("position")
plt.colorbar()
plt.show()
try:
    wpe(npgpt.tensor(np.zeros((1, 65, 64))))
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# The gradient of a learned table is simple: row $pos$ receives the sum over the batch of the upstream
# gradient at position $pos$, and rows for positions not in the input receive nothing.

# %%
x = npgpt.tensor(rng.standard_normal((2, 5, 64)), requires_grad=True)
g = rng.standard_normal((2, 5, 64))
wpe.weight.grad = None
wpe(x).backward(g)
print("rows 0..4 get the batch sum:", np.allclose(wpe.weight.grad[:5], g.sum(0)))
print("rows 5..63 get zero:        ", np.all(wpe.weight.grad[5:] == 0))

# %% [markdown]
# ### What a trained model's learned positions look like
#
# A fresh table is noise, so every pair of positions is about as similar as any other. The model that
# `npgpt.pretrained.load_pretrained()` loads (4 layers, width 96, context 64, trained on the shipped
# Shakespeare by `tools/make_pretrained.py`) learned its table from the text alone.
#
# **Predict, then run.** Nothing in training says that position 5 is next to position 6: the rows are
# independent parameters. After training, will neighbouring rows be more alike than distant ones?

# %%
from npgpt import viz
from npgpt.pretrained import load_pretrained

shakespeare, chars = load_pretrained()
viz.plot_position_similarity(shakespeare)

# %%
learned = shakespeare.transformer.wpe.weight.numpy().astype(np.float64)
unit = learned / np.linalg.norm(learned, axis=1, keepdims=True)
cos = unit @ unit.T
T_ctx = cos.shape[0]
near = np.mean([cos[i, i + 1] for i in range(T_ctx - 1)])
far = np.mean([cos[i, i + 32] for i in range(T_ctx - 32)])
fresh = LearnedPositionalEmbedding(T_ctx, learned.shape[1], rng=1, dtype=np.float64).weight.numpy()
fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
print(f"trained table: mean cos(pos i, pos i+1) = {near:.2f}, cos(pos i, pos i+32) = {far:.2f}")
print(f"fresh table:   mean cos(pos i, pos i+1) = {np.mean(np.sum(fresh[:-1] * fresh[1:], axis=1)):.2f}")
assert near > far + 0.1, "training should make neighbouring positions more alike than distant ones"

# %% [markdown]
# The sinusoidal table (right) is similar along bands that depend only on the distance $|i - j|$, by
# construction. The learned table (left) found a smooth neighbourhood structure on its own: nearby
# positions got similar vectors because they play similar roles in predicting the next character.
# It is noisier and less regular than the sines, and it has no row past position 63.

# %% [markdown]
# ## 4. Rotary position embedding (RoPE)
#
# RoPE (Su et al., 2021) adds nothing to the embeddings. Inside every attention head it **rotates** the
# query and the key of the token at position $m$ by angles proportional to $m$: feature pairs
# $(x_{1,i}, x_{2,i})$ are rotated by $m\,\theta_i$ with $\theta_i = 10000^{-2i/D}$, the same frequencies
# as the sinusoidal table. Which features form a pair is a choice of layout. The RoPE paper and Meta's
# original LLaMA code rotate **interleaved** pairs, features $(2i, 2i+1)$. npgpt uses the **rotate-half**
# layout of GPT-NeoX and of HuggingFace's LLaMA code, feature $i$ with feature $i + D/2$; it is the same
# rotation applied to a permutation of the features (HuggingFace permutes the query and key weights
# when it converts Meta's checkpoints), so the attention scores are the same:
# $$y = x \odot \cos + \mathrm{rotate\_half}(x) \odot \sin, \qquad \mathrm{rotate\_half}([x_1, x_2]) = [-x_2, x_1].$$
#
# Because both $q$ and $k$ are rotated, their dot product depends only on the **relative** position:
# $(R_m q)\cdot(R_n k) = q \cdot R_{n-m} k$. Rotations also preserve lengths.

# %%
D = 8
rope = RotaryEmbedding(head_size=D, block_size=64, dtype=np.float64)
q = npgpt.tensor(rng.standard_normal((1, 1, 1, D)))  # (B, H, T=1, D): one query
k = npgpt.tensor(rng.standard_normal((1, 1, 1, D)))  # one key


def score(m, n):
    # the query placed at position m, the key at position n
    return float((rope(q, offset=m).numpy() * rope(k, offset=n).numpy()).sum())


for m, n in [(5, 2), (20, 17), (60, 57), (5, 3)]:
    print(f"q at {m:2d}, k at {n:2d} (distance {m - n}): score {score(m, n):+.10f}")
print("|q| before and after rotation:", np.linalg.norm(q.numpy()), np.linalg.norm(rope(q, offset=40).numpy()))


# %% [markdown]
# ### Your turn: rotate-half and the rotation
#
# Write `my_rotate_half(x)`, which maps the halves $[x_1, x_2]$ of the last axis to $[-x_2, x_1]$, and
# `my_rope(x, cos, sin)`, the formula above, for `x` of shape `(B, H, T, D)` and tables `cos`, `sin`
# of shape `(T, D)` (the module's `rope.cos[:T]` and `rope.sin[:T]`). The next cell compares both
# with npgpt's `rotate_half` and `RotaryEmbedding`, then checks that your rotation keeps lengths.
#
# *Hint:* cut the last axis at `D // 2` (`x[..., :h]` works for any number of leading axes) and glue
# the pieces back in the new order along `axis=-1`. The `(T, D)` tables broadcast against
# `(B, H, T, D)` as they are.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_rotate_half(x):
#     h = x.shape[-1] // 2
#     return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
#
# def my_rope(x, cos, sin):
#     return x * cos + my_rotate_half(x) * sin
# ```
#
# </details>


# %%
def my_rotate_half(x):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def my_rope(x, cos, sin):
    # your code here
    return x * cos + my_rotate_half(x) * sin


# %%
from npgpt.exercises import check
from npgpt.ops.rope import rotate_half

xr = np.random.default_rng(6).standard_normal((2, 3, 5, D))
check_array(
    "my_rotate_half(x)",
    my_rotate_half(xr),
    rotate_half(xr),
    hint="[x1, x2] -> [-x2, x1]: minus on the SECOND half, which moves to the front.",
)
mine = my_rope(xr, rope.cos[:5], rope.sin[:5])
check_array(
    "my_rope(x, cos, sin)",
    mine,
    rope(npgpt.tensor(xr)).numpy(),
    hint="x * cos + rotate_half(x) * sin, with the tables of positions 0..T-1.",
)
lengths_kept = np.allclose(np.linalg.norm(mine, axis=-1), np.linalg.norm(xr, axis=-1))
check(lengths_kept, "my_rope changed the length of a vector: a rotation must keep it.")

# %% [markdown]
# Meta's interleaved layout, written out with NumPy, gives the same scores once the features are
# reordered: interleaved feature $2i$ is rotate-half feature $i$, and $2i + 1$ is $i + D/2$.


# %%
def rope_interleaved(x, pos):
    # the RoPE paper's and Meta's LLaMA layout: features (2i, 2i+1) rotated by pos * theta_i
    theta = 10000.0 ** (-np.arange(0, D, 2) / D)
    c, s = np.cos(pos * theta), np.sin(pos * theta)
    y = np.empty_like(x)
    y[0::2] = x[0::2] * c - x[1::2] * s
    y[1::2] = x[0::2] * s + x[1::2] * c
    return y


perm = np.concatenate([np.arange(0, D, 2), np.arange(1, D, 2)])  # rotate-half feature j = interleaved perm[j]
q_int, k_int = np.empty(D), np.empty(D)
q_int[perm], k_int[perm] = q.numpy().ravel(), k.numpy().ravel()  # the same q and k, interleaved order
for m, n in [(5, 2), (60, 57)]:
    interleaved = float(rope_interleaved(q_int, m) @ rope_interleaved(k_int, n))
    print(f"q at {m:2d}, k at {n:2d}: interleaved score {interleaved:+.10f}, rotate-half score {score(m, n):+.10f}")
    assert np.isclose(interleaved, score(m, n), rtol=1e-12), "the two layouts should give the same attention score"

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
im = axes[0].imshow(rope.cos[:32], cmap="RdBu", aspect="auto", vmin=-1, vmax=1)
axes[0].set_title("RoPE cos table (both halves share the angles)")
axes[0].set_xlabel("feature")
axes[0].set_ylabel("position")
fig.colorbar(im, ax=axes[0])

# one feature pair (i, i + D/2) of a fixed vector, rotated as its position grows
ones = npgpt.tensor(np.ones((1, 1, 12, D)))
rotated = rope(ones).numpy()[0, 0]  # positions 0..11
for i, colour in [(0, "C0"), (1, "C3")]:
    px, py = rotated[:, i], rotated[:, i + D // 2]
    axes[1].quiver(
        np.zeros(12),
        np.zeros(12),
        px,
        py,
        angles="xy",
        scale_units="xy",
        scale=1,
        color=colour,
        alpha=0.35 + 0.65 * np.arange(12) / 11,
    )
    axes[1].plot(
        px, py, ".", color=colour, label=f"pair ({i}, {i + D // 2}): {1 / 10000 ** (2 * i / D):.3g} rad/position"
    )
axes[1].set_xlim(-1.6, 1.6)
axes[1].set_ylim(-1.6, 1.6)
axes[1].set_aspect("equal")
axes[1].set_title("the pair (1, 1) at positions 0..11 (darker = later)")
axes[1].legend(fontsize=8, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Gradient checks
#
# The backward of a rotation is the inverse rotation, $dx = g \odot \cos - \mathrm{rotate\_half}(g \odot \sin)$
# (`npgpt/ops/rope.py`); the composed version (slices, negation, concatenation) lets autograd derive it.
# The sinusoidal table is a constant, so its gradient passes through unchanged; the learned table is a
# parameter and is checked too.

# %%
xq = npgpt.tensor(rng.standard_normal((2, 3, 6, D)), requires_grad=True)
fused = rope(xq, offset=4)
composed = rope(xq, offset=4, composed=True)
print("forward max |fused - composed| =", np.abs(fused.numpy() - composed.numpy()).max())

report = npgpt.gradcheck(lambda a: rope(a, offset=4), [xq])
print("RoPE (fused op)      :", report.verdict, f"max rel err {report.max_rel_err:.1e}")
report = npgpt.gradcheck(lambda a: rope(a, offset=4, composed=True), [xq])
print("RoPE (composed)      :", report.verdict, f"max rel err {report.max_rel_err:.1e}")
sin_pe = SinusoidalPositionalEncoding(16, 8, dtype=np.float64)
xs = npgpt.tensor(rng.standard_normal((2, 5, 8)), requires_grad=True)
report = npgpt.gradcheck(lambda a: sin_pe(a, offset=3), [xs])
print("sinusoidal           :", report.verdict, f"max rel err {report.max_rel_err:.1e}")
learned = LearnedPositionalEmbedding(16, 8, rng=1, dtype=np.float64)
report = npgpt.gradcheck(lambda a: learned(a, offset=3), [xs], params=[learned.weight])
print("learned (x and table):")
print(report)
assert report.ok

# %% [markdown]
# ## Check yourself
#
# 1. Which features of the sinusoidal table hold sines, which cosines? What is the wavelength, in
#    positions, of features 0/1 and of the last pair for $d = 64$?
#
# <details><summary>Hint</summary>
#
# Even features sines, odd ones cosines. The wavelength is $2\pi/\omega_i = 2\pi\cdot 10000^{2i/d}$:
# $2\pi \approx 6.3$ positions for $i = 0$, about 47,000 for $i = 31$.
#
# </details>
#
# 2. Verify numerically that $PE(p)\cdot PE(q)$ equals $\sum_i \cos((p - q)\,\omega_i)$.
#
# <details><summary>Hint</summary>
#
# `w = 1 / 10000 ** (np.arange(0, d, 2) / d)`, then compare `pe[p] @ pe[q]` with
# `np.cos((p - q) * w).sum()`. It is $\sin a \sin b + \cos a \cos b = \cos(a - b)$, pair by pair.
#
# </details>
#
# 3. Why does a learned table stop at `block_size`, and what does `GPT.crop_block_size` do to it?
#
# <details><summary>Hint</summary>
#
# It is a Parameter of shape `(block_size, C)`: there is no row for a later position, and none could be
# learned without training on such positions. `crop_block_size(n)` keeps the first `n` rows.
#
# </details>
#
# 4. Check $(R_m q)\cdot(R_n k) = q\cdot R_{n-m} k$ with `rope(..., offset=...)` for a few $m \le n$.
#
# <details><summary>Hint</summary>
#
# Compare `score(m, n)` with `(q.numpy() * rope(k, offset=n - m).numpy()).sum()`. Rotations compose by
# adding angles, and $R_m^\top = R_{-m}$.
#
# </details>
#
# 5. How many parameters do the position encodings of GPT-2 small ($T = 1024$, $C = 768$) have? Of a
#    RoPE model of the same size?
#
# <details><summary>Hint</summary>
#
# $1024 \times 768 = 786{,}432$ learned ones; none for RoPE (its `cos`/`sin` tables are buffers computed
# from the config, not parameters).
#
# </details>

# %% [markdown]
# ## Papers
#
# - Vaswani et al., 2017, *Attention Is All You Need*, section 3.5: the sinusoidal encoding.
#   <https://arxiv.org/abs/1706.03762>
# - Radford et al., 2019, *Language Models are Unsupervised Multitask Learners* (GPT-2): learned
#   position embeddings, context 1024.
#   <https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf>
# - Su et al., 2021, *RoFormer: Enhanced Transformer with Rotary Position Embedding* (RoPE).
#   <https://arxiv.org/abs/2104.09864>
