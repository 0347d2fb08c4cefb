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
# # 04 · Softmax and cross-entropy
#
# A GPT ends in a matrix of **logits**: for every position of every sequence, one unnormalised score
# per vocabulary entry, shape `(B, T, V)`. Two functions turn those scores into a training signal:
#
# * **softmax** turns a row of logits $z \in \mathbb{R}^V$ into a probability distribution over the
#   next token,
#   $$\mathrm{softmax}(z)_i = \frac{e^{z_i}}{\sum_{j=1}^{V} e^{z_j}};$$
# * **cross-entropy** scores that distribution against the token that really came next, $t$:
#   $$\ell = -\log \mathrm{softmax}(z)_t .$$
#
# In this notebook you will see why the textbook formula of softmax breaks in floating point and how the
# library avoids it, derive the famous gradient $\partial \ell / \partial z = p - y$, check it with
# `npgpt.gradcheck`, and learn what `ignore_index` is for. Everything below uses npgpt's real ops
# (`npgpt/ops/softmax.py`).

# %%
import os

import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.data import load_text, shakespeare_path

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)


# %% [markdown]
# ## 1. The naive softmax overflows
#
# Exponentials grow fast: in float64 `exp(710)` is already larger than the biggest representable number,
# in float32 `exp(89)` is. Logits of a few hundred are unusual but perfectly possible (a confident model,
# a large learning rate, a bug upstream), and the textbook formula then returns `inf / inf = nan`.


# %%
def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


small = np.array([1.0, 2.0, 3.0])
big = small + 1000.0  # the same logits shifted by a constant

print("naive, small logits:", naive_softmax(small))
with np.errstate(over="ignore", invalid="ignore"):
    print("naive, big logits:  ", naive_softmax(big))
    print("float32 exp(89) =", np.exp(np.float32(89.0)), "  float64 exp(710) =", np.exp(710.0))

# %% [markdown]
# ## 2. The stable softmax: subtract the maximum
#
# For any constant $c$,
# $$\frac{e^{z_i - c}}{\sum_j e^{z_j - c}} = \frac{e^{-c}\, e^{z_i}}{e^{-c} \sum_j e^{z_j}} = \mathrm{softmax}(z)_i ,$$
# so softmax is unchanged by shifting all logits. Choosing $c = \max_j z_j$ makes every exponent
# $\le 0$: every `exp` is at most 1 (no overflow) and the largest is exactly 1 (the denominator is at
# least 1, no division by zero). This is what `npgpt.ops.softmax._softmax` does.

# %%
p_big = F.softmax(npgpt.tensor(big), axis=-1).numpy()
print("npgpt softmax, big logits:  ", p_big)
print("npgpt softmax, small logits:", F.softmax(npgpt.tensor(small), axis=-1).numpy())
print("identical after the shift:  ", np.allclose(p_big, naive_softmax(small), rtol=1e-15, atol=0))

# %% [markdown]
# ## 3. Log-softmax: the log-sum-exp trick
#
# The loss needs $\log p_t$, and taking the log *after* the softmax has the opposite problem: a tiny
# probability underflows to 0 and $\log 0 = -\infty$. Writing the log out avoids ever forming $p$:
# $$\log \mathrm{softmax}(z)_i = z_i - \log \sum_j e^{z_j} = (z_i - m) - \log \sum_j e^{z_j - m},
# \qquad m = \max_j z_j .$$

# %%
z = np.array([0.0, -800.0, 5.0])
with np.errstate(divide="ignore"):
    print("log(naive softmax):", np.log(naive_softmax(z)))
print("npgpt log_softmax: ", F.log_softmax(npgpt.tensor(z), axis=-1).numpy())

# %% [markdown]
# ### Your turn: a log-softmax that never overflows
#
# Write `my_log_softmax(z)` for logits of shape `(B, V)`, softmax over the last axis, that stays finite
# for logits like $1000$ and $-800$. The next cell compares it with npgpt's on such rows.
#
# *Hint:* subtract each row's maximum first (keep the axis so it broadcasts), then apply the formula
# above; `np.log(np.exp(...).sum(...))` is safe once every exponent is $\le 0$.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_log_softmax(z):
#     m = z.max(axis=-1, keepdims=True)
#     return (z - m) - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
# ```
#
# </details>


# %%
def my_log_softmax(z):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    m = z.max(axis=-1, keepdims=True)
    return (z - m) - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


# %%
from npgpt.exercises import check_array

rows = np.array([[1.0, 2.0, 3.0, 4.0], [1000.0, 999.0, 0.0, -5.0], [0.0, -800.0, 5.0, 1.0]])
with np.errstate(over="raise", divide="raise", invalid="raise"):  # an overflow or log(0) stops here
    mine = my_log_softmax(rows)
check_array(
    "my_log_softmax",
    mine,
    F.log_softmax(npgpt.tensor(rows), axis=-1),
    atol=1e-9,
    hint="subtract the row maximum (keepdims=True) before exp",
)

# %% [markdown]
# ## 4. Cross-entropy, and what a first loss should be
#
# Over $n$ positions with targets $t_1 \dots t_n$ the loss is the mean negative log-likelihood
# $$L = -\frac{1}{n} \sum_{r=1}^{n} \log \mathrm{softmax}(z_r)_{t_r}.$$
#
# A model that knows nothing predicts the uniform distribution, $p_i = 1/V$, and scores
# $L = \log V$ ($\log 76 \approx 4.33$ for the 76 characters of the shipped Shakespeare corpus); notebook
# 05 makes it the first loss, the one every language model must beat.
#
# `F.cross_entropy(logits, targets)` takes logits `(..., V)` and integer targets `(...)` and returns the
# mean; it is the same as picking entries of `log_softmax`, which we can check with autograd's indexing.

# %%
V = len(set(load_text(shakespeare_path())))  # the distinct characters of the shipped corpus
logits = npgpt.tensor(np.zeros((4, V)))
targets = np.array([3, 17, 0, 64])
uniform_loss = F.cross_entropy(logits, targets).item()
print(f"V = {V}; uniform logits: loss = {uniform_loss:.4f},  log V = {np.log(V):.4f}")
assert V == 76 and np.isclose(uniform_loss, np.log(V)), "the text above says 76 characters and a loss of log V"

B, V = 4, 6
z = npgpt.tensor(rng.standard_normal((B, V)), requires_grad=True)
t = np.array([1, 0, 5, 2])
fused = F.cross_entropy(z, t)
picked = -(F.log_softmax(z, axis=-1)[np.arange(B), t]).mean()
print(f"fused cross_entropy = {fused.item():.12f}\nlog_softmax picked  = {picked.item():.12f}")

# %% [markdown]
# ## 5. The gradient: $p - y$
#
# **Softmax Jacobian.** With $p = \mathrm{softmax}(z)$,
# $$\frac{\partial p_i}{\partial z_j} = p_i(\delta_{ij} - p_j)$$
# (quotient rule: the numerator $e^{z_i}$ contributes $\delta_{ij} p_i$, the shared denominator contributes
# $-p_i p_j$). Given an upstream gradient $g = \partial L / \partial p$ the backward is the
# vector-Jacobian product
# $$\frac{\partial L}{\partial z_j} = \sum_i g_i\, p_i (\delta_{ij} - p_j) = p_j \Big(g_j - \sum_i g_i p_i\Big),$$
# which costs $O(V)$ instead of building the $V \times V$ Jacobian. That is the whole of
# `Softmax.backward`: `dx = y * (g - sum(g * y))`.
#
# **Cross-entropy.** For one row, $\ell = -\log p_t = -z_t + \log \sum_j e^{z_j}$, so
# $$\frac{\partial \ell}{\partial z_j} = -\delta_{jt} + \frac{e^{z_j}}{\sum_k e^{z_k}} = p_j - y_j ,$$
# where $y$ is the one-hot vector of the target. The log and the exp cancel: the gradient is "what the
# model predicted minus what happened", and the mean over $n$ rows divides it by $n$. This is why
# frameworks fuse softmax and cross-entropy into one op (`CrossEntropy` in `npgpt/ops/softmax.py`): the
# fused backward is one subtraction, and it never divides by a tiny probability.

# %%
# the Jacobian, the vector-Jacobian formula and autograd agree
x = rng.standard_normal(5)
g = rng.standard_normal(5)
s = naive_softmax(x)
J = np.diag(s) - np.outer(s, s)  # J[i, j] = dp_i / dz_j
xt = npgpt.tensor(x, requires_grad=True)
F.softmax(xt, axis=-1).backward(g)
print("J^T g              :", J.T @ g)
print("p * (g - sum(g p)) :", s * (g - (g * s).sum()))
print("npgpt autograd     :", xt.grad)

# %%
# cross-entropy's gradient is (p - y) / n
z.grad = None
loss = F.cross_entropy(z, t)
loss.backward()
p = F.softmax(z.detach(), axis=-1).numpy()
y = np.eye(V)[t]  # one-hot targets
by_hand = (p - y) / B
print("dL/dz from backward:\n", z.grad)
print("max |backward - (p - y)/n| =", np.abs(z.grad - by_hand).max())
print("each row sums to", z.grad.sum(axis=-1))

# %% [markdown]
# **Predict, then run.** For one row, which entries of $\partial \ell / \partial z = p - y$ are
# negative, and how many? What do all the entries add up to?

# %%
import matplotlib.pyplot as plt

row = 0
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), sharey=True)
for ax, (title, vals, color) in zip(
    axes,
    [
        ("p = softmax(z)", p[row], "#1f77b4"),
        ("y: one-hot target", y[row], "#ff7f0e"),
        ("p - y = dl/dz", (p - y)[row], "#2ca02c"),
    ],
):
    ax.bar(range(V), vals, color=color)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(title)
    ax.set_xticks(range(V))
    ax.set_xlabel("class")
fig.suptitle(f"one row, target class {t[row]}: the gradient pushes the target's logit up, every other one down")
plt.tight_layout()
plt.show()
print("entries of p - y that are negative:", np.flatnonzero((p - y)[row] < 0), "| sum:", (p - y)[row].sum())

# %% [markdown]
# Exactly one entry is negative, the target's ($p_t - 1 < 0$); a gradient step *raises* that logit and
# lowers every other one in proportion to its probability. The entries sum to zero, because adding a
# constant to every logit changes nothing (section 2).

# %% [markdown]
# ### Gradient checks
#
# The formulas above are the analytic gradients. `npgpt.gradcheck` compares them with central finite
# differences $(f(x+h) - f(x-h))/2h$ in float64 (notebook 02): a relative error below $10^{-7}$ is
# "good".

# %%
zc = npgpt.tensor(rng.standard_normal((3, 7)), requires_grad=True)
tc = np.array([6, 0, 3])
checks = {
    "softmax": (lambda a: F.softmax(a, axis=-1), [zc]),
    "log_softmax": (lambda a: F.log_softmax(a, axis=-1), [zc]),
    "cross_entropy": (lambda a: F.cross_entropy(a, tc), [zc]),
}
for name, (fn, inputs) in checks.items():
    report = npgpt.gradcheck(fn, inputs)
    print(f"{name:14s} max rel err {report.max_rel_err:.1e}  -> {report.verdict}")
    assert report.ok, report
print()
print(report)  # the full table of the last check

# %% [markdown]
# ## 6. `ignore_index`: positions that do not count
#
# Batches often contain positions that should not be scored: padding after a short sequence, or, when
# fine-tuning a chat model (notebook 15, *from GPT to ChatGPT*), the prompt tokens, so that only the
# answer is learned. Their target is set to `ignore_index` (default `-100`, as in PyTorch). Such a row
# contributes nothing to the loss, the mean is over the counted rows only, and its gradient row is
# exactly zero.

# %%
t_pad = np.array([1, -100, 5, -100])
z.grad = None
loss = F.cross_entropy(z, t_pad)
loss.backward()
keep = t_pad != -100
manual = -np.log(p[np.arange(B)[keep], t_pad[keep]]).mean()
print(f"loss {loss.item():.12f}   by hand (mean over the {keep.sum()} kept rows) {manual:.12f}")
print("gradient (rows 1 and 3 are zero):\n", z.grad)
report = npgpt.gradcheck(lambda a: F.cross_entropy(a, t_pad), [z])
print("gradcheck with ignored rows:", report.verdict, f"(max rel err {report.max_rel_err:.1e})")
assert report.ok

# %%
# a cross-check against PyTorch: skipped without torch, unless NPGPT_REQUIRE_TORCH=1 (CI) makes it required
try:
    import torch
except ImportError:
    if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
        raise ImportError("NPGPT_REQUIRE_TORCH=1 but torch does not import: the cross-check cannot run") from None
    torch = None
    print("PyTorch is not installed: skipping the cross-check (pip install torch to run it)")
if torch is not None:
    zt = torch.tensor(z.numpy(), requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.as_tensor(t_pad))  # ignore_index=-100 by default
    lt.backward()
    loss_diff, grad_diff = abs(lt.item() - loss.item()), np.abs(zt.grad.numpy() - z.grad).max()
    print(f"|loss - torch loss| = {loss_diff:.1e}")
    print(f"max |grad - torch grad| = {grad_diff:.1e}")
    assert loss_diff < 1e-12 and grad_diff < 1e-12, "npgpt's cross_entropy should match PyTorch's in float64"

# %% [markdown]
# ## Check yourself
#
# 1. Show with `F.softmax` that adding 1000 to every logit changes nothing, but multiplying every logit
#    by 10 does. (Dividing logits by a *temperature* before the softmax is how sampling is made more or
#    less adventurous, notebook 11.)
#
# <details><summary>Hint</summary>
#
# `F.softmax(npgpt.tensor(z + 1000.0))` equals `F.softmax(npgpt.tensor(z))` up to rounding: softmax is
# invariant to shifts. `10 * z` makes the distribution much peakier: it is not invariant to scaling.
#
# </details>
#
# 2. What loss does a model get that predicts the uniform distribution over GPT-2's 50,257 tokens? And
#    one that puts probability 0.5 on the right token every time?
#
# <details><summary>Hint</summary>
#
# $\log 50257 \approx 10.825$ and $-\log 0.5 \approx 0.693$.
#
# </details>
#
# 3. Every row of the cross-entropy gradient sums to zero (see above). Prove it from $p - y$. What does
#    it mean for how the logits move under gradient descent?
#
# <details><summary>Hint</summary>
#
# $\sum_j (p_j - y_j) = 1 - 1 = 0$. If the logits themselves are the parameters (free logits, as in a
# bigram table), a gradient step never changes the sum of a row's logits: it only moves them in
# directions to which the softmax is sensitive (a shift of all logits changes nothing). In a network the
# logits are $z = W h + b$ and the step moves $W$ and $b$, so their sum can change (the bias's sum is
# still fixed, since its gradient is the row's gradient summed over examples, but $W h$ moves with $h$).
#
# </details>
#
# 4. What does `F.cross_entropy(z, np.array([-100, -100, -100, -100]))` return, and why? (PyTorch does
#    the same.)
#
# <details><summary>Hint</summary>
#
# `nan`: the mean over zero counted positions is $0/0$.
#
# </details>
#
# 5. Derive the backward of log-softmax, $\partial L/\partial z = g - \mathrm{softmax}(z) \sum_i g_i$, and
#    confirm it with `npgpt.gradcheck` on `F.log_softmax`.
#
# <details><summary>Hint</summary>
#
# $\ell_i = z_i - \log\sum_k e^{z_k}$, so $\partial \ell_i/\partial z_j = \delta_{ij} - p_j$ and
# $\sum_i g_i(\delta_{ij} - p_j) = g_j - p_j \sum_i g_i$.
#
# </details>
#
# Assignment `lessons/a04_softmax_cross_entropy` asks you to write the stable forwards and these
# backwards yourself, inside npgpt (tasks 4.1 to 4.4); the grader checks them against finite differences.

# %% [markdown]
# ## Papers and references
#
# - Bridle, 1990, *Probabilistic Interpretation of Feedforward Classification Network Outputs*: the
#   name "softmax" and its use with the log-likelihood.
# - Goodfellow, Bengio and Courville, 2016, *Deep Learning*, section 6.2.2.3 (softmax units) and
#   4.1 (the overflow and the log-sum-exp trick). <https://www.deeplearningbook.org/>
# - Milakov and Gimelshein, 2018, *Online normalizer calculation for softmax*: the maximum and the sum
#   of exponentials in one pass, the trick FlashAttention builds on (notebook 07).
#   <https://arxiv.org/abs/1805.02867>
