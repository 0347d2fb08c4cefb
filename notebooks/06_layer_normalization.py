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
# # 06 · Layer normalization
#
# Every block of a GPT normalises its input twice (`ln_1`, `ln_2`) and the model normalises once more
# before the output head (`ln_f`). Layer normalization (Ba, Kiros and Hinton, 2016) rescales **each
# token's feature vector on its own**, over its $C$ features:
# $$\mu = \frac{1}{C}\sum_{i=1}^{C} x_i, \qquad
# \sigma^2 = \frac{1}{C}\sum_{i=1}^{C} (x_i - \mu)^2, \qquad
# y_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma_i + \beta_i .$$
#
# * the **mean is subtracted** and the result divided by the standard deviation: every row comes out with
#   mean 0 and variance (almost) 1, whatever the scale of its input;
# * the variance is the **biased** one (divide by $C$, not $C - 1$), as in the paper, PyTorch and GPT-2;
# * $\epsilon$ (`1e-5` in GPT-2) sits **inside** the square root; it keeps the division finite when a row
#   is constant;
# * $\gamma$ (gain, starts at 1) and $\beta$ (bias, starts at 0) are learned, one per feature, so the
#   model can undo the normalisation where that helps.
#
# Unlike batch normalisation nothing is averaged over the batch, so a token's output never depends on
# the other sequences in the batch, and training and inference compute the same thing.
#
# > **Popular write-ups get this wrong.** Some drop the mean subtraction, $x/\sqrt{\mathrm{mean}(x^2)+\epsilon}$:
# > that is *RMSNorm*, a different layer (used by LLaMA, not by GPT-2). Others put $\epsilon$ outside the
# > root, $(x-\mu)/(\sigma + \epsilon)$, or use the unbiased variance. Those are not LayerNorm, and weights
# > trained with the real formula give different outputs under them, as section 2 measures.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import LayerNorm, layer_norm_composed

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. What LayerNorm does to a row
#
# Four tokens with very different offsets and scales come out on the same footing.

# %%
C = 8
x_np = np.stack(
    [
        5.0 + 0.1 * rng.standard_normal(C),  # large offset, small spread
        -2.0 + 10.0 * rng.standard_normal(C),  # large spread
        rng.standard_normal(C),  # already normalised
        3.0 + 1e-3 * rng.standard_normal(C),  # almost constant
    ]
)
gamma, beta = np.ones(C), np.zeros(C)
y = F.layer_norm(npgpt.tensor(x_np), npgpt.tensor(gamma), npgpt.tensor(beta), eps=1e-5).numpy()
print("input  mean per row:", x_np.mean(-1), "\n       std  per row:", x_np.std(-1))
print("output mean per row:", y.mean(-1), "\n       std  per row:", y.std(-1))

# %% [markdown]
# The last row's standard deviation is below $10^{-3}$, so $\sigma^2 < 10^{-6}$ is small next to
# $\epsilon = 10^{-5}$: its output is shrunk (std about 0.2 rather than 1). That is $\epsilon$ doing its job:
# a nearly constant row is not blown up to unit variance, which would amplify noise.
#
# ## 2. The wrong formulas, measured
#
# Each variant below is compared with npgpt's fused `F.layer_norm` on the rows above.

# %%
eps = 1e-5
mu = x_np.mean(-1, keepdims=True)
var = x_np.var(-1, keepdims=True)  # biased: divides by C
variants = {
    "correct: (x - mu) / sqrt(var + eps)": (x_np - mu) / np.sqrt(var + eps),
    "no mean subtraction (RMSNorm)": x_np / np.sqrt((x_np**2).mean(-1, keepdims=True) + eps),
    "eps outside: (x - mu) / (std + eps)": (x_np - mu) / (np.sqrt(var) + eps),
    "unbiased variance (divide by C - 1)": (x_np - mu) / np.sqrt(x_np.var(-1, ddof=1, keepdims=True) + eps),
}
for name, out in variants.items():
    print(f"{name:38s} max |difference from F.layer_norm| per row: {np.abs(out - y).max(-1)}")

# %% [markdown]
# Only the first matches. RMSNorm is off by a lot wherever the row mean is not zero; the unbiased variance
# is off by the factor $\sqrt{C/(C-1)}$ (7% for $C = 8$); $\epsilon$ outside the root agrees for rows with
# large variance but not for the nearly constant last row, which is exactly the case $\epsilon$ exists for.
#
# If PyTorch is installed we can also compare with `torch.nn.functional.layer_norm`:

# %%
# skipped without torch, unless NPGPT_REQUIRE_TORCH=1 (CI) makes the cross-check required
try:
    import torch
except ImportError:
    if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
        raise ImportError("NPGPT_REQUIRE_TORCH=1 but torch does not import: the cross-check cannot run") from None
    torch = None
    print("PyTorch is not installed: skipping the cross-check (pip install torch to run it)")
if torch is not None:
    ref = torch.nn.functional.layer_norm(torch.tensor(x_np), (C,), eps=1e-5).numpy()
    print(f"max |npgpt - torch| = {np.abs(ref - y).max():.1e}")
    assert np.abs(ref - y).max() < 1e-12, "npgpt's LayerNorm should match torch.nn.functional.layer_norm in float64"


# %% [markdown]
# ## 3. Composed and fused
#
# `layer_norm_composed` spells the formula out with primitive autograd ops (mean, var, subtract, sqrt,
# divide, multiply, add); autograd differentiates through each of them. `F.layer_norm` is one op with a
# hand-written backward (`npgpt/ops/layernorm.py`): fewer intermediate arrays, faster. They must agree.


# %%
def make_inputs(seed=1, shape=(3, 5, 8)):
    r = np.random.default_rng(seed)
    x = npgpt.tensor(r.standard_normal(shape) * 2 + 1, requires_grad=True)
    w = npgpt.tensor(1 + 0.1 * r.standard_normal(shape[-1]), requires_grad=True)
    b = npgpt.tensor(0.1 * r.standard_normal(shape[-1]), requires_grad=True)
    return x, w, b


upstream = np.random.default_rng(2).standard_normal((3, 5, 8))
grads = {}
for name, fn in [("fused", F.layer_norm), ("composed", layer_norm_composed)]:
    x, w, b = make_inputs()
    out = fn(x, w, b, eps=1e-5)
    out.backward(upstream)
    grads[name] = (out.numpy(), x.grad, w.grad, b.grad)
for label, a, c in zip(["y", "dx", "dgamma", "dbeta"], grads["fused"], grads["composed"]):
    print(f"{label:7s} max |fused - composed| = {np.abs(a - c).max():.1e}")


# %% [markdown]
# ## 4. The backward, derived step by step
#
# Write $r = (\sigma^2 + \epsilon)^{-1/2}$ and $\hat{x}_i = (x_i - \mu)\, r$, so $y_i = \hat{x}_i \gamma_i + \beta_i$.
# Let $g = \partial L/\partial y$ be the upstream gradient of one row.
#
# **The affine part** is easy. Summed over all rows (tokens) of the batch, since $\gamma, \beta$ are shared:
# $$\frac{\partial L}{\partial \beta_i} = \sum_{\text{rows}} g_i, \qquad
# \frac{\partial L}{\partial \gamma_i} = \sum_{\text{rows}} g_i \hat{x}_i, \qquad
# \frac{\partial L}{\partial \hat{x}_i} = g_i \gamma_i =: \hat{g}_i .$$
#
# **The normalisation.** $\hat{x}_i$ depends on $x_j$ directly and through $\mu$ and $r$:
#
# 1. $\dfrac{\partial \mu}{\partial x_j} = \dfrac{1}{C}$.
# 2. $\dfrac{\partial \sigma^2}{\partial x_j} = \dfrac{2}{C}\sum_i (x_i - \mu)\Big(\delta_{ij} - \dfrac{1}{C}\Big) = \dfrac{2}{C}(x_j - \mu)$,
#    because $\sum_i (x_i - \mu) = 0$.
# 3. $\dfrac{\partial r}{\partial x_j} = -\dfrac{1}{2}(\sigma^2+\epsilon)^{-3/2}\,\dfrac{2}{C}(x_j-\mu) = -\dfrac{r^3 (x_j - \mu)}{C}$.
# 4. Product rule on $\hat{x}_i = (x_i - \mu) r$:
#    $$\frac{\partial \hat{x}_i}{\partial x_j} = r\Big(\delta_{ij} - \frac{1}{C}\Big) - (x_i - \mu)\frac{r^3 (x_j - \mu)}{C}
#    = r\Big(\delta_{ij} - \frac{1}{C} - \frac{\hat{x}_i \hat{x}_j}{C}\Big).$$
# 5. Chain rule, $\partial L/\partial x_j = \sum_i \hat{g}_i\, \partial \hat{x}_i / \partial x_j$:
#    $$\boxed{\;\frac{\partial L}{\partial x} = r\Big(\hat{g} - \mathrm{mean}(\hat{g}) - \hat{x}\, \mathrm{mean}(\hat{g} \odot \hat{x})\Big)\;}$$
#    with the means over the $C$ features of the row.
#
# Three terms with a meaning: the gradient as if the normalisation were a fixed scaling ($r \hat{g}$),
# minus its mean (moving all features together changes nothing after the mean is subtracted), minus its
# component along $\hat{x}$ (scaling the row changes nothing after dividing by the standard deviation,
# up to $\epsilon$). Here it is in plain NumPy, next to the library:


# %%
def layer_norm_backward(g, x, gamma, eps=1e-5):
    # the boxed formula; g and x are (..., C) arrays, gamma (C,)
    mu = x.mean(-1, keepdims=True)
    r = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - mu) * r
    ghat = g * gamma
    dx = r * (ghat - ghat.mean(-1, keepdims=True) - xhat * (ghat * xhat).mean(-1, keepdims=True))
    C = x.shape[-1]
    dgamma = (g * xhat).reshape(-1, C).sum(0)
    dbeta = g.reshape(-1, C).sum(0)
    return dx, dgamma, dbeta


x, w, b = make_inputs()
mine = layer_norm_backward(upstream, x.numpy(), w.numpy())
for label, a, c in zip(["dx", "dgamma", "dbeta"], mine, grads["fused"][1:]):
    print(f"{label:7s} max |by hand - fused op| = {np.abs(a - c).max():.1e}")
dx = mine[0]
print("dx sums to zero over features:", np.abs(dx.sum(-1)).max())

# %% [markdown]
# ### Your turn: the normalisation as an op
#
# Here is the normalisation alone, $\hat{x} = (x - \mu)\,r$ over the last axis, as an npgpt `Function`
# whose forward saves $\hat{x}$ and $r$. Write its `backward`: given $g = \partial L / \partial \hat{x}$,
# return a 1-tuple with $\partial L / \partial x$. The next cell gradient-checks it.
#
# *Hint:* it is the boxed formula with $\gamma = 1$ (so $\hat{g} = g$); the means are over the last axis
# with `keepdims=True`.
#
# <details><summary>Answer</summary>
#
# ```python
#     @staticmethod
#     def backward(ctx, g):
#         xhat, r = ctx.saved_tensors
#         return (r * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)),)
# ```
#
# </details>

# %%
from npgpt.autograd import Function


class MyNormalize(Function):
    @staticmethod
    def forward(ctx, x, eps=1e-5):
        mu = x.mean(-1, keepdims=True)
        r = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)
        xhat = (x - mu) * r
        ctx.save_for_backward(xhat, r)
        return xhat

    @staticmethod
    def backward(ctx, g):
        # your code here (the answer is filled in, so the notebook runs top to bottom)
        xhat, r = ctx.saved_tensors
        return (r * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)),)


# %%
from npgpt.exercises import check_gradient

x_ex = npgpt.tensor(np.random.default_rng(4).standard_normal((3, 5)), requires_grad=True)
check_gradient(
    "MyNormalize",
    MyNormalize.apply,
    [x_ex],
    hint="r * (g - mean(g) - xhat * mean(g * xhat)), means over the last axis with keepdims=True",
)

# %% [markdown]
# ### Gradient check
#
# Finite differences settle it, for the fused op, the composed one, and the `LayerNorm` module
# (whose gain and bias are passed as `params`).

# %%
x, w, b = make_inputs(seed=3, shape=(2, 3, 6))
for name, fn in [("F.layer_norm", F.layer_norm), ("layer_norm_composed", layer_norm_composed)]:
    report = npgpt.gradcheck(lambda a, g, c, fn=fn: fn(a, g, c, eps=1e-5), [x, w, b])
    print(f"{name:20s} {report.verdict:10s} max rel err {report.max_rel_err:.1e}")
    assert report.ok

ln = LayerNorm(6, dtype=np.float64)
report = npgpt.gradcheck(ln, [x], params=list(ln.parameters()))
print(report)
assert report.ok

# %% [markdown]
# ## 5. The constant-input edge case
#
# **Predict, then run.** Normalise a row whose six entries are all 0.5, and one whose entries are all 0.7,
# without $\epsilon$. What comes out of each?
#
# <details><summary>Answer</summary>
#
# A constant row has $\sigma^2 = 0$. Without $\epsilon$ the formula is $0/0$: `nan` for a row of 0.5. A row
# of 0.7 is worse: 0.7 is not exactly representable, the computed mean is off in the last bit, and the
# rounding noise of size $10^{-16}$ is divided by its own standard deviation and comes out as $\pm 1$.
#
# </details>
#
# With $\epsilon$, $\hat{x} = 0$,
# the output is just $\beta$, and the backward is finite:
# $\partial L/\partial x = \epsilon^{-1/2}\big(\hat{g} - \mathrm{mean}(\hat{g})\big)$. Note the size of
# $\epsilon^{-1/2} \approx 316$: a constant row is maximally sensitive to small perturbations, and
# $\epsilon$ is what caps that sensitivity.

# %%
with np.errstate(invalid="ignore", divide="ignore"):
    for value in [0.5, 0.7]:
        row = np.full(6, value)
        print(f"row of {value} without eps:", (row - row.mean()) / np.sqrt(row.var()), f"  (var = {row.var():.1e})")
xc = np.full((1, 6), 0.7)
x_const = npgpt.tensor(np.vstack([xc, rng.standard_normal((2, 6))]), requires_grad=True)
w_const = npgpt.tensor(1 + 0.1 * rng.standard_normal(6), requires_grad=True)
b_const = npgpt.tensor(0.1 * rng.standard_normal(6), requires_grad=True)
out = F.layer_norm(x_const, w_const, b_const, eps=1e-5)
print("with eps, the constant row gives beta:", np.allclose(out.numpy()[0], b_const.numpy()))
report = npgpt.gradcheck(lambda a, g, c: F.layer_norm(a, g, c, eps=1e-5), [x_const, w_const, b_const])
print(report)
assert report.ok

# %%
# the gradient of the constant row, as the formula predicts
x_const.grad = None
u = np.random.default_rng(4).standard_normal((3, 6))
F.layer_norm(x_const, w_const, b_const, eps=1e-5).backward(u)
ghat = u[0] * w_const.numpy()
predicted = (ghat - ghat.mean()) / np.sqrt(1e-5)
print("backward :", x_const.grad[0])
print("predicted:", predicted)
assert np.allclose(x_const.grad[0], predicted), "the backward of a constant row should match the formula"

# %% [markdown]
# ## 6. A picture: LayerNorm only keeps the "shape" of a row
#
# Every input row that differs only by an offset and a positive scale maps to the same output. The plot
# shows three such rows before and after.

# %%
base = np.sin(np.linspace(0, 3, 16)) + 0.3 * np.random.default_rng(5).standard_normal(16)
rows = np.stack([base, 4 * base + 3, 0.2 * base - 1])
normed = F.layer_norm(npgpt.tensor(rows), npgpt.tensor(np.ones(16)), npgpt.tensor(np.zeros(16))).numpy()
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for r_in, r_out, label in zip(rows, normed, ["x", "4x + 3", "0.2x - 1"]):
    axes[0].plot(r_in, marker=".", label=label)
    axes[1].plot(r_out, marker=".", label=label)
axes[0].set_title("input rows")
axes[1].set_title("after LayerNorm (curves coincide)")
for ax in axes:
    ax.set_xlabel("feature")
    ax.legend()
plt.tight_layout()
plt.show()
print("max spread between the three outputs:", np.abs(normed - normed[0]).max())
assert np.abs(normed - normed[0]).max() < 1e-2, "rows differing by an offset and a positive scale should coincide"

# %% [markdown]
# ## Check yourself
#
# 1. Why does $\partial L/\partial x$ sum to zero over the features of a row? Which term of the boxed
#    formula makes it so?
#
# <details><summary>Hint</summary>
#
# $\hat{g} - \mathrm{mean}(\hat{g})$ sums to zero by construction, and $\sum_i \hat{x}_i = 0$ because the
# mean was subtracted. It mirrors the forward: adding a constant to every feature changes nothing.
#
# </details>
#
# 2. Show numerically that `(dx * xhat).sum(-1)` is close to, but not exactly, zero. What would make it
#    exactly zero?
#
# <details><summary>Hint</summary>
#
# It equals $r \sum_i \hat{g}_i\hat{x}_i\,(1 - \mathrm{mean}(\hat{x}^2))$ and
# $\mathrm{mean}(\hat{x}^2) = \sigma^2/(\sigma^2 + \epsilon)$, just below 1. With $\epsilon = 0$ it is exactly
# zero: then scaling a row changes nothing at all.
#
# </details>
#
# 3. Apply LayerNorm to a row whose standard deviation is $10^{-4}$. What is the output's standard
#    deviation, and why is it not 1?
#
# <details><summary>Hint</summary>
#
# $\sigma/\sqrt{\sigma^2 + \epsilon} = 10^{-4}/\sqrt{10^{-8} + 10^{-5}} \approx 0.032$: $\epsilon$ dominates
# the variance.
#
# </details>
#
# 4. Write RMSNorm, $y = x/\sqrt{\mathrm{mean}(x^2) + \epsilon}\,\gamma$, with npgpt's primitive ops and
#    gradcheck it. For which inputs does it agree with LayerNorm?
#
# <details><summary>Hint</summary>
#
# `x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt() * w`. It agrees with LayerNorm (with
# $\beta = 0$) on rows whose mean is already zero, since then $\mathrm{mean}(x^2) = \sigma^2$.
#
# </details>
#
# 5. How many parameters does one LayerNorm of GPT-2 small ($C = 768$) have? How many LayerNorms does
#    the whole model have?
#
# <details><summary>Hint</summary>
#
# $2C = 1536$. Two per block and the final one: $2 \cdot 12 + 1 = 25$, together 38,400 parameters.
#
# </details>
#
# Assignment `lessons/a06_layernorm` asks you to write this backward yourself.

# %% [markdown]
# ## Papers
#
# - Ba, Kiros and Hinton, 2016, *Layer Normalization*. <https://arxiv.org/abs/1607.06450>
# - Ioffe and Szegedy, 2015, *Batch Normalization* (normalising over the batch instead of the features,
#   and why that does not suit sequence models). <https://arxiv.org/abs/1502.03167>
# - Xiong et al., 2020, *On Layer Normalization in the Transformer Architecture* (where to put it).
#   <https://arxiv.org/abs/2002.04745>
# - Zhang and Sennrich, 2019, *Root Mean Square Layer Normalization* (RMSNorm: no mean subtracted, used
#   by LLaMA). <https://arxiv.org/abs/1910.07467>
