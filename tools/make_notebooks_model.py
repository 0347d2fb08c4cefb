"""Write the GPT-model lesson notebooks (04-08 and 11) from the cell text below.

    python tools/make_notebooks_model.py            # (re)write notebooks/04_... to notebooks/11_...
    python tools/make_notebooks_model.py --check    # exit 1 if a committed notebook differs

The notebooks are committed without outputs; CI runs them top to bottom with ``pytest --nbmake``.
Editing the text here and regenerating keeps the .ipynb JSON diff-free and reviewable.
"""

from __future__ import annotations

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from make_notebooks import code, hint, md, write_or_check  # noqa: E402  (shared cell helpers)

# ============================================================================ 04
NB04 = [
    md(r"""
# 04 · Softmax and cross-entropy

A GPT ends in a matrix of **logits**: for every position of every sequence, one unnormalised score
per vocabulary entry, shape `(B, T, V)`. Two functions turn those scores into a training signal:

* **softmax** turns a row of logits $z \in \mathbb{R}^V$ into a probability distribution over the
  next token,
  $$\mathrm{softmax}(z)_i = \frac{e^{z_i}}{\sum_{j=1}^{V} e^{z_j}};$$
* **cross-entropy** scores that distribution against the token that really came next, $t$:
  $$\ell = -\log \mathrm{softmax}(z)_t .$$

In this notebook you will see why the textbook formula of softmax breaks in floating point and how the
library avoids it, derive the famous gradient $\partial \ell / \partial z = p - y$, check it with
`npgpt.gradcheck`, and learn what `ignore_index` is for. Everything below uses npgpt's real ops
(`npgpt/ops/softmax.py`).
"""),
    code(r"""
import numpy as np

import npgpt
import npgpt.functional as F

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. The naive softmax overflows

Exponentials grow fast: in float64 `exp(710)` is already larger than the biggest representable number,
in float32 `exp(89)` is. Logits of a few hundred are unusual but perfectly possible (a confident model,
a large learning rate, a bug upstream), and the textbook formula then returns `inf / inf = nan`.
"""),
    code(r"""
def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


small = np.array([1.0, 2.0, 3.0])
big = small + 1000.0  # the same logits shifted by a constant

print("naive, small logits:", naive_softmax(small))
with np.errstate(over="ignore", invalid="ignore"):
    print("naive, big logits:  ", naive_softmax(big))
    print("float32 exp(89) =", np.exp(np.float32(89.0)), "  float64 exp(710) =", np.exp(710.0))
"""),
    md(r"""
## 2. The stable softmax: subtract the maximum

For any constant $c$,
$$\frac{e^{z_i - c}}{\sum_j e^{z_j - c}} = \frac{e^{-c}\, e^{z_i}}{e^{-c} \sum_j e^{z_j}} = \mathrm{softmax}(z)_i ,$$
so softmax is unchanged by shifting all logits. Choosing $c = \max_j z_j$ makes every exponent
$\le 0$: every `exp` is at most 1 (no overflow) and the largest is exactly 1 (the denominator is at
least 1, no division by zero). This is what `npgpt.ops.softmax._softmax` does.
"""),
    code(r"""
p_big = F.softmax(npgpt.tensor(big), axis=-1).numpy()
print("npgpt softmax, big logits:  ", p_big)
print("npgpt softmax, small logits:", F.softmax(npgpt.tensor(small), axis=-1).numpy())
print("identical after the shift:  ", np.allclose(p_big, naive_softmax(small), rtol=1e-15, atol=0))
"""),
    md(r"""
## 3. Log-softmax: the log-sum-exp trick

The loss needs $\log p_t$, and taking the log *after* the softmax has the opposite problem: a tiny
probability underflows to 0 and $\log 0 = -\infty$. Writing the log out avoids ever forming $p$:
$$\log \mathrm{softmax}(z)_i = z_i - \log \sum_j e^{z_j} = (z_i - m) - \log \sum_j e^{z_j - m},
\qquad m = \max_j z_j .$$
"""),
    code(r"""
z = np.array([0.0, -800.0, 5.0])
with np.errstate(divide="ignore"):
    print("log(naive softmax):", np.log(naive_softmax(z)))
print("npgpt log_softmax: ", F.log_softmax(npgpt.tensor(z), axis=-1).numpy())
"""),
    md(r"""
## 4. Cross-entropy, and what a first loss should be

Over $n$ positions with targets $t_1 \dots t_n$ the loss is the mean negative log-likelihood
$$L = -\frac{1}{n} \sum_{r=1}^{n} \log \mathrm{softmax}(z_r)_{t_r}.$$

A model that knows nothing predicts the uniform distribution, $p_i = 1/V$, and scores
$L = \log V$. That is the number a freshly initialised language model should start near (about 4.17
for the 65 characters of the Shakespeare corpus, 10.8 for GPT-2's 50,257 tokens); a first loss far
above it means the initial logits are too large.

`F.cross_entropy(logits, targets)` takes logits `(..., V)` and integer targets `(...)` and returns the
mean; it is the same as picking entries of `log_softmax`, which we can check with autograd's indexing.
"""),
    code(r"""
V = 65
logits = npgpt.tensor(np.zeros((4, V)))
targets = np.array([3, 17, 0, 64])
print(f"uniform logits: loss = {F.cross_entropy(logits, targets).item():.4f},  log V = {np.log(V):.4f}")

B, V = 4, 6
z = npgpt.tensor(rng.standard_normal((B, V)), requires_grad=True)
t = np.array([1, 0, 5, 2])
fused = F.cross_entropy(z, t)
picked = -(F.log_softmax(z, axis=-1)[np.arange(B), t]).mean()
print(f"fused cross_entropy = {fused.item():.12f}\nlog_softmax picked  = {picked.item():.12f}")
"""),
    md(r"""
## 5. The gradient: $p - y$

**Softmax Jacobian.** With $p = \mathrm{softmax}(z)$,
$$\frac{\partial p_i}{\partial z_j} = p_i(\delta_{ij} - p_j)$$
(quotient rule: the numerator $e^{z_i}$ contributes $\delta_{ij} p_i$, the shared denominator contributes
$-p_i p_j$). Given an upstream gradient $g = \partial L / \partial p$ the backward is the
vector-Jacobian product
$$\frac{\partial L}{\partial z_j} = \sum_i g_i\, p_i (\delta_{ij} - p_j) = p_j \Big(g_j - \sum_i g_i p_i\Big),$$
which costs $O(V)$ instead of building the $V \times V$ Jacobian. That is the whole of
`Softmax.backward`: `dx = y * (g - sum(g * y))`.

**Cross-entropy.** For one row, $\ell = -\log p_t = -z_t + \log \sum_j e^{z_j}$, so
$$\frac{\partial \ell}{\partial z_j} = -\delta_{jt} + \frac{e^{z_j}}{\sum_k e^{z_k}} = p_j - y_j ,$$
where $y$ is the one-hot vector of the target. The log and the exp cancel: the gradient is "what the
model predicted minus what happened", and the mean over $n$ rows divides it by $n$. This is why
frameworks fuse softmax and cross-entropy into one op (`CrossEntropy` in `npgpt/ops/softmax.py`): the
fused backward is one subtraction, and it never divides by a tiny probability.
"""),
    code(r"""
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
"""),
    code(r"""
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
"""),
    md(r"""
### Gradient checks

The formulas above are the analytic gradients. `npgpt.gradcheck` compares them with central finite
differences $(f(x+h) - f(x-h))/2h$ in float64 (notebook 02): a relative error below $10^{-7}$ is
"good".
"""),
    code(r"""
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
"""),
    md(r"""
## 6. `ignore_index`: positions that do not count

Batches often contain positions that should not be scored: padding after a short sequence, or, when
fine-tuning a chat model (notebook 13), the prompt tokens, so that only the answer is learned. Their
target is set to `ignore_index` (default `-100`, as in PyTorch). Such a row contributes nothing to the
loss, the mean is over the counted rows only, and its gradient row is exactly zero.
"""),
    code(r"""
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
"""),
    code(r"""
# a cross-check against PyTorch, if it is installed (CI installs it)
try:
    import torch
except ImportError:
    print("PyTorch is not installed: skipping the cross-check (pip install torch to run it)")
else:
    zt = torch.tensor(z.numpy(), requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.as_tensor(t_pad))  # ignore_index=-100 by default
    lt.backward()
    print(f"|loss - torch loss| = {abs(lt.item() - loss.item()):.1e}")
    print(f"max |grad - torch grad| = {np.abs(zt.grad.numpy() - z.grad).max():.1e}")
"""),
    md(
        r"""
## Check yourself

1. Show with `F.softmax` that adding 1000 to every logit changes nothing, but multiplying every logit
   by 10 does. (Dividing logits by a *temperature* before the softmax is how sampling is made more or
   less adventurous, notebook 10.)
"""
        + hint(r"""
`F.softmax(npgpt.tensor(z + 1000.0))` equals `F.softmax(npgpt.tensor(z))` up to rounding: softmax is
invariant to shifts. `10 * z` makes the distribution much peakier: it is not invariant to scaling.
""")
        + r"""

2. What loss does a model get that predicts the uniform distribution over GPT-2's 50,257 tokens? And
   one that puts probability 0.5 on the right token every time?
"""
        + hint(r"""
$\log 50257 \approx 10.825$ and $-\log 0.5 \approx 0.693$.
""")
        + r"""

3. Every row of the cross-entropy gradient sums to zero (see above). Prove it from $p - y$. What does
   it mean for how the logits move under gradient descent?
"""
        + hint(r"""
$\sum_j (p_j - y_j) = 1 - 1 = 0$. A gradient step never changes the sum of a row's logits: it only
moves them in directions to which the softmax is sensitive (a shift of all logits changes nothing).
""")
        + r"""

4. What does `F.cross_entropy(z, np.array([-100, -100, -100, -100]))` return, and why? (PyTorch does
   the same.)
"""
        + hint(r"""
`nan`: the mean over zero counted positions is $0/0$.
""")
        + r"""

5. Derive the backward of log-softmax, $\partial L/\partial z = g - \mathrm{softmax}(z) \sum_i g_i$, and
   confirm it with `npgpt.gradcheck` on `F.log_softmax`.
"""
        + hint(r"""
$\ell_i = z_i - \log\sum_k e^{z_k}$, so $\partial \ell_i/\partial z_j = \delta_{ij} - p_j$ and
$\sum_i g_i(\delta_{ij} - p_j) = g_j - p_j \sum_i g_i$.
""")
        + r"""

Assignment `lessons/a04_softmax_cross_entropy` asks you to write these backwards yourself; the grader
checks them with `gradcheck`.
"""
    ),
]

# ============================================================================ 05
NB05 = [
    md(r"""
# 05 · Layer normalization

Every block of a GPT normalises its input twice (`ln_1`, `ln_2`) and the model normalises once more
before the output head (`ln_f`). Layer normalization (Ba, Kiros and Hinton, 2016) rescales **each
token's feature vector on its own**, over its $C$ features:
$$\mu = \frac{1}{C}\sum_{i=1}^{C} x_i, \qquad
\sigma^2 = \frac{1}{C}\sum_{i=1}^{C} (x_i - \mu)^2, \qquad
y_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma_i + \beta_i .$$

* the **mean is subtracted** and the result divided by the standard deviation: every row comes out with
  mean 0 and variance (almost) 1, whatever the scale of its input;
* the variance is the **biased** one (divide by $C$, not $C - 1$), as in the paper, PyTorch and GPT-2;
* $\epsilon$ (`1e-5` in GPT-2) sits **inside** the square root; it keeps the division finite when a row
  is constant;
* $\gamma$ (gain, starts at 1) and $\beta$ (bias, starts at 0) are learned, one per feature, so the
  model can undo the normalisation where that helps.

Unlike batch normalisation nothing is averaged over the batch, so a token's output never depends on
the other sequences in the batch, and training and inference compute the same thing.

> **Popular write-ups get this wrong.** Some drop the mean subtraction, $x/\sqrt{\mathrm{mean}(x^2)+\epsilon}$:
> that is *RMSNorm*, a different layer (used by LLaMA, not by GPT-2). Others put $\epsilon$ outside the
> root, $(x-\mu)/(\sigma + \epsilon)$, or use the unbiased variance. Those are not LayerNorm, and weights
> trained with the real formula give different outputs under them, as section 2 measures.
"""),
    code(r"""
import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import LayerNorm, layer_norm_composed

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. What LayerNorm does to a row

Four tokens with very different offsets and scales come out on the same footing.
"""),
    code(r"""
C = 8
x_np = np.stack([
    5.0 + 0.1 * rng.standard_normal(C),     # large offset, small spread
    -2.0 + 10.0 * rng.standard_normal(C),   # large spread
    rng.standard_normal(C),                 # already normalised
    3.0 + 1e-3 * rng.standard_normal(C),    # almost constant
])
gamma, beta = np.ones(C), np.zeros(C)
y = F.layer_norm(npgpt.tensor(x_np), npgpt.tensor(gamma), npgpt.tensor(beta), eps=1e-5).numpy()
print("input  mean per row:", x_np.mean(-1), "\n       std  per row:", x_np.std(-1))
print("output mean per row:", y.mean(-1), "\n       std  per row:", y.std(-1))
"""),
    md(r"""
The last row's standard deviation is below $10^{-3}$, so $\sigma^2 < 10^{-6}$ is small next to
$\epsilon = 10^{-5}$: its output is shrunk (std about 0.2 rather than 1). That is $\epsilon$ doing its job:
a nearly constant row is not blown up to unit variance, which would amplify noise.

## 2. The wrong formulas, measured

Each variant below is compared with npgpt's fused `F.layer_norm` on the rows above.
"""),
    code(r"""
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
"""),
    md(r"""
Only the first matches. RMSNorm is off by a lot wherever the row mean is not zero; the unbiased variance
is off by the factor $\sqrt{C/(C-1)}$ (7% for $C = 8$); $\epsilon$ outside the root agrees for rows with
large variance but not for the nearly constant last row, which is exactly the case $\epsilon$ exists for.

If PyTorch is installed we can also compare with `torch.nn.functional.layer_norm`:
"""),
    code(r"""
try:
    import torch
except ImportError:
    print("PyTorch is not installed: skipping the cross-check")
else:
    ref = torch.nn.functional.layer_norm(torch.tensor(x_np), (C,), eps=1e-5).numpy()
    print(f"max |npgpt - torch| = {np.abs(ref - y).max():.1e}")
"""),
    md(r"""
## 3. Composed and fused

`layer_norm_composed` spells the formula out with primitive autograd ops (mean, var, subtract, sqrt,
divide, multiply, add); autograd differentiates through each of them. `F.layer_norm` is one op with a
hand-written backward (`npgpt/ops/layernorm.py`): fewer intermediate arrays, faster. They must agree.
"""),
    code(r"""
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
"""),
    md(r"""
## 4. The backward, derived step by step

Write $r = (\sigma^2 + \epsilon)^{-1/2}$ and $\hat{x}_i = (x_i - \mu)\, r$, so $y_i = \hat{x}_i \gamma_i + \beta_i$.
Let $g = \partial L/\partial y$ be the upstream gradient of one row.

**The affine part** is easy. Summed over all rows (tokens) of the batch, since $\gamma, \beta$ are shared:
$$\frac{\partial L}{\partial \beta_i} = \sum_{\text{rows}} g_i, \qquad
\frac{\partial L}{\partial \gamma_i} = \sum_{\text{rows}} g_i \hat{x}_i, \qquad
\frac{\partial L}{\partial \hat{x}_i} = g_i \gamma_i =: \hat{g}_i .$$

**The normalisation.** $\hat{x}_i$ depends on $x_j$ directly and through $\mu$ and $r$:

1. $\dfrac{\partial \mu}{\partial x_j} = \dfrac{1}{C}$.
2. $\dfrac{\partial \sigma^2}{\partial x_j} = \dfrac{2}{C}\sum_i (x_i - \mu)\Big(\delta_{ij} - \dfrac{1}{C}\Big) = \dfrac{2}{C}(x_j - \mu)$,
   because $\sum_i (x_i - \mu) = 0$.
3. $\dfrac{\partial r}{\partial x_j} = -\dfrac{1}{2}(\sigma^2+\epsilon)^{-3/2}\,\dfrac{2}{C}(x_j-\mu) = -\dfrac{r^3 (x_j - \mu)}{C}$.
4. Product rule on $\hat{x}_i = (x_i - \mu) r$:
   $$\frac{\partial \hat{x}_i}{\partial x_j} = r\Big(\delta_{ij} - \frac{1}{C}\Big) - (x_i - \mu)\frac{r^3 (x_j - \mu)}{C}
   = r\Big(\delta_{ij} - \frac{1}{C} - \frac{\hat{x}_i \hat{x}_j}{C}\Big).$$
5. Chain rule, $\partial L/\partial x_j = \sum_i \hat{g}_i\, \partial \hat{x}_i / \partial x_j$:
   $$\boxed{\;\frac{\partial L}{\partial x} = r\Big(\hat{g} - \mathrm{mean}(\hat{g}) - \hat{x}\, \mathrm{mean}(\hat{g} \odot \hat{x})\Big)\;}$$
   with the means over the $C$ features of the row.

Three terms with a meaning: the gradient as if the normalisation were a fixed scaling ($r \hat{g}$),
minus its mean (moving all features together changes nothing after the mean is subtracted), minus its
component along $\hat{x}$ (scaling the row changes nothing after dividing by the standard deviation,
up to $\epsilon$). Here it is in plain NumPy, next to the library:
"""),
    code(r"""
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
"""),
    md(r"""
### Gradient check

Finite differences settle it, for the fused op, the composed one, and the `LayerNorm` module
(whose gain and bias are passed as `params`).
"""),
    code(r"""
x, w, b = make_inputs(seed=3, shape=(2, 3, 6))
for name, fn in [("F.layer_norm", F.layer_norm), ("layer_norm_composed", layer_norm_composed)]:
    report = npgpt.gradcheck(lambda a, g, c, fn=fn: fn(a, g, c, eps=1e-5), [x, w, b])
    print(f"{name:20s} {report.verdict:10s} max rel err {report.max_rel_err:.1e}")
    assert report.ok

ln = LayerNorm(6, dtype=np.float64)
report = npgpt.gradcheck(ln, [x], params=list(ln.parameters()))
print(report)
assert report.ok
"""),
    md(r"""
## 5. The constant-input edge case

A constant row has $\sigma^2 = 0$. Without $\epsilon$ the formula is $0/0$: `nan` for a row of 0.5. A row
of 0.7 is worse: 0.7 is not exactly representable, the computed mean is off in the last bit, and the
rounding noise of size $10^{-16}$ is divided by its own standard deviation and comes out as $\pm 1$.
With $\epsilon$, $\hat{x} = 0$,
the output is just $\beta$, and the backward is finite:
$\partial L/\partial x = \epsilon^{-1/2}\big(\hat{g} - \mathrm{mean}(\hat{g})\big)$. Note the size of
$\epsilon^{-1/2} \approx 316$: a constant row is maximally sensitive to small perturbations, and
$\epsilon$ is what caps that sensitivity.
"""),
    code(r"""
with np.errstate(invalid="ignore", divide="ignore"):
    for value in [0.5, 0.7]:
        row = np.full(6, value)
        print(f"row of {value} without eps:", (row - row.mean()) / np.sqrt(row.var()),
              f"  (var = {row.var():.1e})")
xc = np.full((1, 6), 0.7)
x_const = npgpt.tensor(np.vstack([xc, rng.standard_normal((2, 6))]), requires_grad=True)
w_const = npgpt.tensor(1 + 0.1 * rng.standard_normal(6), requires_grad=True)
b_const = npgpt.tensor(0.1 * rng.standard_normal(6), requires_grad=True)
out = F.layer_norm(x_const, w_const, b_const, eps=1e-5)
print("with eps, the constant row gives beta:", np.allclose(out.numpy()[0], b_const.numpy()))
report = npgpt.gradcheck(lambda a, g, c: F.layer_norm(a, g, c, eps=1e-5), [x_const, w_const, b_const])
print(report)
assert report.ok
"""),
    code(r"""
# the gradient of the constant row, as the formula predicts
x_const.grad = None
u = np.random.default_rng(4).standard_normal((3, 6))
F.layer_norm(x_const, w_const, b_const, eps=1e-5).backward(u)
ghat = u[0] * w_const.numpy()
predicted = (ghat - ghat.mean()) / np.sqrt(1e-5)
print("backward :", x_const.grad[0])
print("predicted:", predicted)
"""),
    md(r"""
## 6. A picture: LayerNorm only keeps the "shape" of a row

Every input row that differs only by an offset and a positive scale maps to the same output. The plot
shows three such rows before and after.
"""),
    code(r"""
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
"""),
    md(
        r"""
## Check yourself

1. Why does $\partial L/\partial x$ sum to zero over the features of a row? Which term of the boxed
   formula makes it so?
"""
        + hint(r"""
$\hat{g} - \mathrm{mean}(\hat{g})$ sums to zero by construction, and $\sum_i \hat{x}_i = 0$ because the
mean was subtracted. It mirrors the forward: adding a constant to every feature changes nothing.
""")
        + r"""

2. Show numerically that `(dx * xhat).sum(-1)` is close to, but not exactly, zero. What would make it
   exactly zero?
"""
        + hint(r"""
It equals $r \sum_i \hat{g}_i\hat{x}_i\,(1 - \mathrm{mean}(\hat{x}^2))$ and
$\mathrm{mean}(\hat{x}^2) = \sigma^2/(\sigma^2 + \epsilon)$, just below 1. With $\epsilon = 0$ it is exactly
zero: then scaling a row changes nothing at all.
""")
        + r"""

3. Apply LayerNorm to a row whose standard deviation is $10^{-4}$. What is the output's standard
   deviation, and why is it not 1?
"""
        + hint(r"""
$\sigma/\sqrt{\sigma^2 + \epsilon} = 10^{-4}/\sqrt{10^{-8} + 10^{-5}} \approx 0.032$: $\epsilon$ dominates
the variance.
""")
        + r"""

4. Write RMSNorm, $y = x/\sqrt{\mathrm{mean}(x^2) + \epsilon}\,\gamma$, with npgpt's primitive ops and
   gradcheck it. For which inputs does it agree with LayerNorm?
"""
        + hint(r"""
`x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt() * w`. It agrees with LayerNorm (with
$\beta = 0$) on rows whose mean is already zero, since then $\mathrm{mean}(x^2) = \sigma^2$.
""")
        + r"""

5. How many parameters does one LayerNorm of GPT-2 small ($C = 768$) have? How many LayerNorms does
   the whole model have?
"""
        + hint(r"""
$2C = 1536$. Two per block and the final one: $2 \cdot 12 + 1 = 25$, together 38,400 parameters.
""")
        + r"""

Assignment `lessons/a05_layernorm` asks you to write this backward yourself.
"""
    ),
]

# ============================================================================ 06
NB06 = [
    md(r"""
# 06 · Positional encoding

Attention (notebook 07) compares every token with every other token by dot products and then averages.
Nothing in that computation knows *where* a token sits: shuffle the tokens and the outputs are
shuffled the same way. "Dog bites man" and "man bites dog" would look alike. A transformer therefore
injects position explicitly. Three ways, all in `npgpt/nn/positional.py`:

| method | where | learned? | used by |
|---|---|---|---|
| sinusoidal table added to the embeddings | input | no, fixed formula | the original Transformer (2017) |
| learned table added to the embeddings | input | yes, one vector per position | GPT-1, GPT-2, GPT-3 |
| rotary (RoPE): rotate queries and keys | inside attention | no | GPT-NeoX, LLaMA and most recent models |
"""),
    code(r"""
import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEncoding, sinusoidal_table

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. Attention alone ignores order

Attention without a mask over five token vectors, then over the same five in a different order: each
token gets exactly the same output wherever it stands (the outputs are permuted along with the inputs).
"""),
    code(r"""
x = rng.standard_normal((1, 1, 5, 4))  # (B, H, T, D): five tokens
perm = np.array([3, 0, 4, 1, 2])
out = F.scaled_dot_product_attention(*(npgpt.tensor(x),) * 3, causal=False).numpy()
xp = x[:, :, perm]
out_perm = F.scaled_dot_product_attention(*(npgpt.tensor(xp),) * 3, causal=False).numpy()
print("max |out[perm] - out(permuted input)| =", np.abs(out[:, :, perm] - out_perm).max())
"""),
    md(r"""
(GPT's causal mask breaks the symmetry a little, since a token can tell how many tokens precede it,
but that is a weak signal; every GPT adds explicit positions.)

## 2. Sinusoidal encoding (fixed)

Vaswani et al. (2017) add to the embedding of the token at position $pos$ the vector
$$PE(pos, 2i) = \sin\!\Big(\frac{pos}{10000^{2i/d}}\Big), \qquad PE(pos, 2i+1) = \cos\!\Big(\frac{pos}{10000^{2i/d}}\Big),$$
for $i = 0, \dots, d/2 - 1$: **sine on the even features, cosine on the odd ones**, each pair sharing one
frequency $\omega_i = 10000^{-2i/d}$. The frequencies fall geometrically from 1 (wavelength $2\pi$
positions) to about $1/10000$ (wavelength about 63,000): fast features tell neighbours apart, slow
ones encode coarse position, like the hands of a clock. **Nothing is learned**: the table is a fixed
function of $pos$ and $d$.
"""),
    code(r"""
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
"""),
    code(r"""
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
"""),
    md(r"""
### Why sines and cosines: relative positions are linear maps

For each pair $(\sin a, \cos a)$ with $a = pos\,\omega_i$, moving $k$ positions is a fixed rotation:
$$\begin{pmatrix}\sin(a + k\omega_i)\\ \cos(a + k\omega_i)\end{pmatrix}
= \begin{pmatrix}\cos k\omega_i & \sin k\omega_i\\ -\sin k\omega_i & \cos k\omega_i\end{pmatrix}
\begin{pmatrix}\sin a\\ \cos a\end{pmatrix},$$
the same matrix for every $pos$. So "the token $k$ places back" is a linear function of the encoding,
which a linear layer can learn; and the dot product $PE(p)\cdot PE(q) = \sum_i \cos((p-q)\omega_i)$
depends only on the distance $p - q$ (the banded picture below).
"""),
    code(r"""
k = 3
M = np.zeros((d, d))
for i in range(d // 2):
    w = 1.0 / 10000 ** (2 * i / d)
    c, s = np.cos(k * w), np.sin(k * w)
    M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
print(f"max |PE[pos + {k}] - M_{k} PE[pos]| over all pos:", np.abs(pe[k:] - pe[:-k] @ M.T).max())

plt.figure(figsize=(4.5, 4))
plt.imshow(pe @ pe.T, cmap="viridis")
plt.title("PE(p) . PE(q): depends only on p - q")
plt.xlabel("q")
plt.ylabel("p")
plt.colorbar()
plt.show()
"""),
    md(r"""
## 3. Learned positions (GPT-1, GPT-2, GPT-3)

GPT-1, GPT-2 and GPT-3 do not use the sinusoidal table. They learn it: a Parameter `wpe` of shape
`(block_size, C)`, one vector per position, initialised to small random numbers ($N(0, 0.02^2)$ in GPT-2)
and trained with everything else. A fresh table is noise; training gives it structure. The price: there
is no row for positions beyond `block_size`, so the model cannot be run on longer contexts.
"""),
    code(r"""
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
"""),
    md(r"""
The gradient of a learned table is simple: row $pos$ receives the sum over the batch of the upstream
gradient at position $pos$, and rows for positions not in the input receive nothing.
"""),
    code(r"""
x = npgpt.tensor(rng.standard_normal((2, 5, 64)), requires_grad=True)
g = rng.standard_normal((2, 5, 64))
wpe.weight.grad = None
wpe(x).backward(g)
print("rows 0..4 get the batch sum:", np.allclose(wpe.weight.grad[:5], g.sum(0)))
print("rows 5..63 get zero:        ", np.all(wpe.weight.grad[5:] == 0))
"""),
    md(r"""
## 4. Rotary position embedding (RoPE)

RoPE (Su et al., 2021) adds nothing to the embeddings. Inside every attention head it **rotates** the
query and the key of the token at position $m$ by angles proportional to $m$: feature pairs
$(x_{1,i}, x_{2,i})$ are rotated by $m\,\theta_i$ with $\theta_i = 10000^{-2i/D}$, the same frequencies
as the sinusoidal table. npgpt uses the GPT-NeoX/LLaMA pairing, feature $i$ with feature $i + D/2$
("rotate half"):
$$y = x \odot \cos + \mathrm{rotate\_half}(x) \odot \sin, \qquad \mathrm{rotate\_half}([x_1, x_2]) = [-x_2, x_1].$$

Because both $q$ and $k$ are rotated, their dot product depends only on the **relative** position:
$(R_m q)\cdot(R_n k) = q \cdot R_{n-m} k$. Rotations also preserve lengths.
"""),
    code(r"""
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
"""),
    code(r"""
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
    axes[1].quiver(np.zeros(12), np.zeros(12), px, py, angles="xy", scale_units="xy", scale=1,
                   color=colour, alpha=0.35 + 0.65 * np.arange(12) / 11)
    axes[1].plot(px, py, ".", color=colour, label=f"pair ({i}, {i + D // 2}): {1 / 10000 ** (2 * i / D):.3g} rad/position")
axes[1].set_xlim(-1.6, 1.6)
axes[1].set_ylim(-1.6, 1.6)
axes[1].set_aspect("equal")
axes[1].set_title("the pair (1, 1) at positions 0..11 (darker = later)")
axes[1].legend(fontsize=8, loc="lower left")
plt.tight_layout()
plt.show()
"""),
    md(r"""
## 5. Gradient checks

The backward of a rotation is the inverse rotation, $dx = g \odot \cos - \mathrm{rotate\_half}(g \odot \sin)$
(`npgpt/ops/rope.py`); the composed version (slices, negation, concatenation) lets autograd derive it.
The sinusoidal table is a constant, so its gradient passes through unchanged; the learned table is a
parameter and is checked too.
"""),
    code(r"""
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
"""),
    md(
        r"""
## Check yourself

1. Which features of the sinusoidal table hold sines, which cosines? What is the wavelength, in
   positions, of features 0/1 and of the last pair for $d = 64$?
"""
        + hint(r"""
Even features sines, odd ones cosines. The wavelength is $2\pi/\omega_i = 2\pi\cdot 10000^{2i/d}$:
$2\pi \approx 6.3$ positions for $i = 0$, about 47,000 for $i = 31$.
""")
        + r"""

2. Verify numerically that $PE(p)\cdot PE(q)$ equals $\sum_i \cos((p - q)\,\omega_i)$.
"""
        + hint(r"""
`w = 1 / 10000 ** (np.arange(0, d, 2) / d)`, then compare `pe[p] @ pe[q]` with
`np.cos((p - q) * w).sum()`. It is $\sin a \sin b + \cos a \cos b = \cos(a - b)$, pair by pair.
""")
        + r"""

3. Why does a learned table stop at `block_size`, and what does `GPT.crop_block_size` do to it?
"""
        + hint(r"""
It is a Parameter of shape `(block_size, C)`: there is no row for a later position, and none could be
learned without training on such positions. `crop_block_size(n)` keeps the first `n` rows.
""")
        + r"""

4. Check $(R_m q)\cdot(R_n k) = q\cdot R_{n-m} k$ with `rope(..., offset=...)` for a few $m \le n$.
"""
        + hint(r"""
Compare `score(m, n)` with `(q.numpy() * rope(k, offset=n - m).numpy()).sum()`. Rotations compose by
adding angles, and $R_m^\top = R_{-m}$.
""")
        + r"""

5. How many parameters do the position encodings of GPT-2 small ($T = 1024$, $C = 768$) have? Of a
   RoPE model of the same size?
"""
        + hint(r"""
$1024 \times 768 = 786{,}432$ learned ones; none for RoPE (its `cos`/`sin` tables are buffers computed
from the config, not parameters).
""")
        + r"""
"""
    ),
]

# ============================================================================ 07
NB07 = [
    md(r"""
# 07 · Attention

Attention is how the tokens of a sequence exchange information. Every token emits three vectors:

* a **query** $q$: what am I looking for?
* a **key** $k$: what do I contain?
* a **value** $v$: what do I pass on if someone attends to me?

Token $i$ scores every token $j$ by $q_i \cdot k_j$, turns the scores into weights with a softmax, and
outputs the weighted average of the values. For all tokens at once, with $D$ the size of $q$ and $k$:
$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{D}} + M\Big) V ,$$
where $M$ is the **causal mask**. This notebook takes the formula apart: the scale, the mask, the
heads, the backward through the softmax, and finally pictures of what a trained model attends to.
"""),
    code(r"""
import math

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import GPT, CausalSelfAttention, GPTConfig, attention_composed, causal_mask
from npgpt.optim import AdamW

np.set_printoptions(precision=3, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. Why divide by $\sqrt{D}$

If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then $q\cdot k = \sum_{d=1}^{D} q_d k_d$
has variance $D$: scores grow like $\sqrt{D}$ with the head size. Large scores make the softmax
**saturate**: nearly all weight on one key, and the softmax's gradient $p_i(\delta_{ij} - p_j)$ is then
nearly zero everywhere, so learning stalls. Dividing by $\sqrt{D}$ brings the scores back to variance 1
whatever the head size.
"""),
    code(r"""
print(f"{'D':>5} {'std(q.k)':>9} {'std(q.k)/sqrt(D)':>17} {'max weight, unscaled':>21} {'scaled':>7}")
for D in [4, 16, 64, 256, 1024]:
    q = rng.standard_normal((2000, 16, D))
    k = rng.standard_normal((2000, 16, D))
    s = np.einsum("nd,ntd->nt", q[:, 0], k)  # one query against 16 keys, 2000 times
    unscaled = F.softmax(npgpt.tensor(s), axis=-1).numpy().max(-1).mean()
    scaled = F.softmax(npgpt.tensor(s / math.sqrt(D)), axis=-1).numpy().max(-1).mean()
    print(f"{D:5d} {s.std():9.2f} {s.std() / math.sqrt(D):17.2f} {unscaled:21.3f} {scaled:7.3f}")
"""),
    md(r"""
## 2. The causal mask: GPT only looks back

GPT is a **causal** (autoregressive) language model: the output at position $t$ is a prediction of
token $t+1$ and may use tokens $0 \dots t$ only. During training all $T$ predictions of a sequence are
computed in one pass, so the model must be prevented from peeking at the answers. The mask sets the
score of every future key to $-\infty$ before the softmax; $e^{-\infty} = 0$, so future tokens get
exactly zero weight.

This is different from BERT, a *masked language model*: an encoder that sees the whole sentence in
both directions and is trained to fill in a few hidden tokens. BERT cannot generate text left to right;
GPT is built to.

`causal_mask(T, T)` is True where key $j$ is in the future of query $i$ ($j > i$):
"""),
    code(r"""
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
"""),
    md(r"""
## 3. The formula in NumPy, and the library's two implementations

npgpt has the same computation twice: `attention_composed` is built from primitive autograd ops (one
line per formula, autograd derives the backward), and `F.scaled_dot_product_attention` is one fused op
with a hand-written backward (`npgpt/ops/attention.py`). Both agree with five lines of NumPy.
"""),
    code(r"""
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
"""),
    md(r"""
## 4. Multi-head attention

One attention pattern per layer would be limiting: a token may need to look at the previous token *and*
at the subject of the sentence. Multi-head attention splits the $C$ features into $H$ heads of size
$D = C/H$, runs attention in each head independently, concatenates the results and mixes them with
an output projection. In GPT-2 (`CausalSelfAttention`):

| step | shape |
|---|---|
| `q, k, v = split(x @ W_attn^T + b_attn)` | 3 × (B, T, C) |
| reshape and transpose into heads | 3 × (B, H, T, D) |
| attention in every head | (B, H, T, D) |
| transpose back and merge the heads | (B, T, C) |
| `y @ W_proj^T + b_proj` | (B, T, C) |

The cost of the heads is no more than one big head: the same $C \times 3C$ projection, cut differently.
Below, the module's forward is rebuilt from its own weights step by step.
"""),
    code(r"""
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
"""),
    md(r"""
## 5. The backward, through the softmax

Forward, per head, with $s = 1/\sqrt{D}$:
$$S = s\,QK^\top + M, \qquad P = \mathrm{softmax}(S), \qquad O = PV .$$
Given $dO = \partial L/\partial O$, go back one line at a time:

1. $O = PV$ is a matrix product (notebook 03): $\;dV = P^\top dO,\quad dP = dO\, V^\top.$
2. The softmax acts row by row; its vector-Jacobian product (notebook 04) is
   $$dS = P \odot \big(dP - \mathrm{rowsum}(dP \odot P)\big).$$
   Masked entries have $P = 0$, so they get $dS = 0$: no gradient flows to the future.
3. $S = s\,QK^\top$: $\;dQ = s\, dS\, K,\quad dK = s\, dS^\top Q.$

That is the whole of `ScaledDotProductAttention.backward`. In NumPy:
"""),
    code(r"""
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
"""),
    md(r"""
### Gradient checks

Finite differences for the fused op, the composed one, and the cached case $T_q < T_k$ used in
generation (the queries are the last $T_q$ positions; the mask is offset accordingly).
"""),
    code(r"""
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
"""),
    md(r"""
## 6. Attention maps: what a trained model looks at

A freshly initialised GPT attends almost uniformly to the past (its scores are all near 0). To see
structure we train a tiny one-layer, two-head GPT for 100 steps on a task that *needs* attention:
every sequence is 8 random digits followed by the same 8 digits again. From position 7 on, the next
token is the one 7 positions back, so the model must learn to attend there. The targets of positions
0..6 are random digits nobody can predict, so they are not scored (set to `ignore_index`, notebook 04).
"""),
    code(r"""
cfg = GPTConfig(vocab_size=10, block_size=16, n_layer=1, n_head=2, n_embd=32)
model = GPT(cfg, rng=0)
data_rng = np.random.default_rng(0)


def copy_batch(batch_size=32):
    first = data_rng.integers(0, 10, size=(batch_size, 8))
    seq = np.concatenate([first, first], axis=1)  # 16 tokens: a random half, then its copy
    x, y = seq[:, :-1], seq[:, 1:].copy()
    y[:, :7] = -100  # the random half cannot be predicted: do not score it
    return x, y


def attention_maps(model, idx):
    # recompute the softmax weights of layer 0 from the model's own modules
    blk, C, H = model.transformer.h[0], model.config.n_embd, model.config.n_head
    with npgpt.no_grad():
        h = model.transformer.wpe(F.embedding(idx, model.transformer.wte.weight))
        qm, km, _ = blk.attn.c_attn(blk.ln_1(h)).split(C, axis=2)
    Bm, Tm, _ = qm.shape
    qm = qm.numpy().reshape(Bm, Tm, H, C // H).transpose(0, 2, 1, 3)
    km = km.numpy().reshape(Bm, Tm, H, C // H).transpose(0, 2, 1, 3)
    s = np.where(causal_mask(Tm, Tm), -np.inf, qm @ km.swapaxes(-1, -2) / np.sqrt(C // H))
    return softmax_np(s)  # (B, H, T, T)


probe, _ = copy_batch(1)
maps_before = attention_maps(model, probe)
opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
losses = []
for step in range(100):
    xb, yb = copy_batch()
    _, loss = model(xb, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"loss: step 0 {losses[0]:.3f} (log 10 = {np.log(10):.3f}),  step 99 {losses[-1]:.4f}")
maps_after = attention_maps(model, probe)
"""),
    code(r"""
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
labels = [str(d) for d in probe[0]]
for ax, (title, m) in zip(axes, [("random init, head 0", maps_before[0, 0]), ("random init, head 1", maps_before[0, 1]),
                                 ("trained, head 0", maps_after[0, 0]), ("trained, head 1", maps_after[0, 1])]):
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
"""),
    md(r"""
Before training every row spreads its weight evenly over the past (row $i$ has $i+1$ cells of about
$1/(i+1)$); the upper triangle is empty in both because of the causal mask. After training, the heads
show a sharp diagonal stripe 7 positions back for the queries 7..14: exactly the token to copy. (The
queries 0..6 were never scored, so what they attend to does not matter.) GPT-2 small has 144 heads
(12 layers × 12 heads), some with patterns as clean as this one, most harder to read.
"""),
    md(
        r"""
## Check yourself

1. Show that the rows of the attention weights sum to 1 and that the upper triangle is exactly 0.
"""
        + hint(r"""
`maps_after.sum(-1)` is all ones (to rounding); `np.triu(maps_after[0, 0], 1).max()` is `0.0`, exactly,
because $e^{-\infty} = 0$.
""")
        + r"""

2. Remove the $1/\sqrt{D}$ in `attention_np` and repeat the experiment of section 1 for $D = 256$:
   what happens to the gradient of the softmax?
"""
        + hint(r"""
The scores have standard deviation 16, the weights are nearly one-hot, and $p_i(\delta_{ij} - p_j)$ is
nearly zero everywhere: `dS` for a random `dP` is orders of magnitude smaller, so the queries and keys
hardly learn.
""")
        + r"""

3. Why is `dS` zero on the masked entries even though $-\infty$ appears in the forward pass?
"""
        + hint(r"""
The backward only uses $P$, and $P = 0$ exactly on masked entries; $dS = P \odot (\dots)$ is therefore 0.
The $-\infty$ itself is never multiplied by anything.
""")
        + r"""

4. In the copy task the targets of positions 0..6 are ignored but position 7 (the last random digit) is
   scored. Why is its target predictable, and which key must its query attend to?
"""
        + hint(r"""
Its target is token 8 of the sequence, the first digit of the copy, which equals token 0: the query at
position 7 attends to key 0, seven positions back like all the others.
""")
        + r"""

5. How many weight matrices does `CausalSelfAttention` have, and how many parameters for $C = 768$?
"""
        + hint(r"""
Two: `c_attn` ($C \times 3C$ and $3C$ biases) and `c_proj` ($C \times C$ and $C$): $4C^2 + 4C = 2{,}362{,}368$.
""")
        + r"""

Assignment `lessons/a07_attention` asks you to write the backward of scaled dot-product attention.
"""
    ),
]

# ============================================================================ 08
NB08 = [
    md(r"""
# 08 · The GPT block and model

Notebooks 04-07 built the parts. Here they are assembled into GPT (`npgpt/nn/gpt.py`), the same
architecture as GPT-2 with the same parameter names:

$$\begin{aligned}
x &= W_{te}[\text{idx}] + W_{pe}[0{:}T] && (B, T, C)\ \text{token + learned position embeddings}\\
x &= x + \mathrm{attn}(\mathrm{LN}_1(x)) && \text{tokens exchange information}\\
x &= x + \mathrm{MLP}(\mathrm{LN}_2(x)) && \text{each token is processed on its own}\\
&\quad \text{(the two lines above, } L \text{ times)}\\
\text{logits} &= \mathrm{LN}_f(x)\, W_{te}^\top && (B, T, V)\ \text{output head tied to the embedding}\\
\text{loss} &= \mathrm{cross\_entropy}(\text{logits}, \text{next tokens})
\end{aligned}$$

This notebook goes through each design decision (residual stream, pre-LN, GELU MLP, weight tying,
initialisation), counts the parameters of the published GPTs with the library's own counting code, and
ends with a gradient check of a whole tiny GPT.
"""),
    code(r"""
import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.nn import GPT, MLP, PRESETS, Block, GPTConfig, init, parameter_count

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. The block: a residual stream with two pre-LN sublayers

Think of $x$ as a **residual stream** running from the embeddings to the head. Each sublayer reads a
*normalised copy* of the stream and *adds* its output back:
$$x \leftarrow x + \mathrm{attn}(\mathrm{LN}_1(x)), \qquad x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x)).$$

* **Residual connections.** $\partial (x + f(x))/\partial x = I + \partial f/\partial x$: the identity
  gives the gradient an unobstructed path from the loss to the embeddings through every layer, which
  is what lets deep stacks train.
* **Pre-LN.** GPT-2 and GPT-3 normalise the input of each sublayer and never the stream itself, and
  add one final `ln_f` before the head. GPT-1 (like the original Transformer) was *post-LN*,
  $x \leftarrow \mathrm{LN}(x + f(x))$, which puts a normalisation on the gradient path of every layer and
  is harder to train deep. npgpt builds the pre-LN model.

Below, a `Block` is rebuilt from its four sub-modules.
"""),
    code(r"""
cfg = GPTConfig(vocab_size=32, block_size=8, n_layer=2, n_head=2, n_embd=16)
block = Block(cfg, rng=0, dtype=np.float64)
print(block)
x = npgpt.tensor(rng.standard_normal((2, 8, 16)))
with npgpt.no_grad():
    after_attn = x + block.attn(block.ln_1(x))
    by_hand = after_attn + block.mlp(block.ln_2(after_attn))
    print("max |Block(x) - by hand| =", np.abs(block(x).numpy() - by_hand.numpy()).max())
"""),
    md(r"""
## 2. The MLP and GELU

The MLP widens each token to $4C$ features, applies a nonlinearity, and projects back:
$\mathrm{MLP}(x) = \mathrm{GELU}(x W_{fc}^\top + b_{fc})\, W_{proj}^\top + b_{proj}$. Attention only mixes
tokens (it is linear in the values); the MLP is where most of the per-token computation happens, and
it holds two thirds of a block's weights.

GELU weights its input by the probability that a standard normal variable is below it,
$\mathrm{GELU}(x) = x\,\Phi(x)$. GPT-2 uses the tanh approximation
$$\mathrm{GELU}(x) \approx \tfrac{1}{2}x\Big(1 + \tanh\!\big(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\big)\Big),$$
and so does npgpt (`F.gelu(x, approximate="tanh")`); loading GPT-2's weights (notebook 11) needs the
same form.
"""),
    code(r"""
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
"""),
    md(r"""
## 3. Weight tying

The output head turns a $C$-vector into $V$ logits, so it needs a $V \times C$ matrix, the same shape as
the token embedding. GPT-2 uses **the same matrix** for both (Press and Wolf, 2017): token $v$'s logit is
the dot product of the final hidden state with $v$'s own embedding. In npgpt the head is literally
`F.linear(x, wte)`; there is no separate `lm_head` parameter. For GPT-2 small this saves
$V C = 50257 \times 768 \approx 38.6$M parameters, almost a third of the model.

The shared matrix gets gradient from both uses. The rows of tokens that are *not in the input* cannot
get any through the embedding lookup, yet they do get gradient, through the head:
"""),
    code(r"""
model = GPT(cfg, rng=0, dtype=np.float64)
print("parameters with 'wte' or 'head' in the name:",
      [n for n, _ in model.named_parameters() if "wte" in n or "head" in n])
idx = np.array([[1, 2, 3, 4, 5, 6, 7, 8]])
targets = np.array([[2, 3, 4, 5, 6, 7, 8, 9]])
_, loss = model(idx, targets)
loss.backward()
g = model.transformer.wte.weight.grad
absent = [v for v in range(cfg.vocab_size) if v not in idx]
print(f"token 20 is not in the input; |grad of its row| = {np.linalg.norm(g[20]):.2e} (from the head)")
print("every absent token's row has gradient:", bool(np.all(np.linalg.norm(g[absent], axis=1) > 0)))
"""),
    md(r"""
## 4. Initialisation (GPT-2's scheme)

`GPT(config, rng=seed)` draws every Linear and Embedding weight from $N(0, 0.02^2)$, sets biases to 0 and
LayerNorm gains to 1, and draws the two **residual projections** of each block (`attn.c_proj`,
`mlp.c_proj`) from $N(0, (0.02/\sqrt{2L})^2)$. The reason: the stream is a sum of $2L$ sublayer outputs
(two per block). If each adds independent noise of variance $\sigma^2$, the stream's variance grows like
$2L\sigma^2$; scaling the projections by $1/\sqrt{2L}$ keeps the total independent of depth.

Measured on a 24-layer model: the standard deviation of the residual stream after each block, with
GPT-2's scaling and with all projections at 0.02.
"""),
    code(r"""
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
print("std of attn.c_proj weights:", m.transformer.h[0].attn.c_proj.weight.numpy().std(),
      " expected 0.02/sqrt(48) =", 0.02 / np.sqrt(48))
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
print(f"growth over 24 blocks: {scaled[-1] / scaled[0]:.2f}x with the scaling, {unscaled[-1] / unscaled[0]:.2f}x without")
"""),
    md(r"""
## 5. Counting parameters

Per block, with $C$ = `n_embd` and biases:

| part | parameters |
|---|---|
| `ln_1`, `ln_2` | $2 \times 2C$ |
| `attn.c_attn` ($q, k, v$ in one matrix) | $3C^2 + 3C$ |
| `attn.c_proj` | $C^2 + C$ |
| `mlp.c_fc` | $4C^2 + 4C$ |
| `mlp.c_proj` | $4C^2 + C$ |
| **block** | $12C^2 + 13C$ |

plus the token embedding $VC$ (shared with the head), the learned positions $TC$, and the final
LayerNorm $2C$. `npgpt.nn.parameter_count` does this arithmetic without allocating anything. First,
it agrees with a model that is actually built:
"""),
    code(r"""
small = GPTConfig(vocab_size=100, block_size=16, n_layer=3, n_head=4, n_embd=32)
built = sum(p.data.size for p in GPT(small, rng=0).parameters())
C = small.n_embd
formula = small.vocab_size * C + small.block_size * C + small.n_layer * (12 * C**2 + 13 * C) + 2 * C
print(f"allocated {built:,}   parameter_count {parameter_count(small):,}   formula {formula:,}")
"""),
    md(r"""
Now the published models, from the configs in `PRESETS` (vocabulary $V$, context $T$, layers $L$, heads
$H$, width $C$). GPT-1 was post-LN without a final LayerNorm; `arch="gpt1"` counts it as it was.
"""),
    code(r"""
print(f"{'model':12s} {'V':>6} {'T':>5} {'L':>3} {'H':>3} {'C':>6} {'parameters':>17}")
counts = {}
for name, p in PRESETS.items():
    cfg_p = GPTConfig.preset(name)
    counts[name] = parameter_count(cfg_p, arch="gpt1" if name == "gpt1" else "gpt2")
    print(f"{name:12s} {p['vocab_size']:6d} {p['block_size']:5d} {p['n_layer']:3d} {p['n_head']:3d} "
          f"{p['n_embd']:6d} {counts[name]:17,}")
print()
print(f"GPT-1                : {counts['gpt1'] / 1e6:.1f}M   (the paper: about 117M)")
print(f"GPT-2 small          : {counts['gpt2']:,}  (exactly 124,439,808)")
print(f"GPT-2 (gpt2-xl)      : {counts['gpt2-xl'] / 1e9:.2f}B  (the paper: 1.5B)")
print(f"GPT-3                : {counts['gpt3'] / 1e9:.1f}B  (the paper: 175B)")
assert counts["gpt2"] == 124_439_808
"""),
    code(r"""
# where GPT-2 small's parameters are
g2 = GPTConfig.preset("gpt2")
C, V, T, L = g2.n_embd, g2.vocab_size, g2.block_size, g2.n_layer
parts = {"token embedding (= head)": V * C, "positions": T * C, "12 blocks": L * (12 * C**2 + 13 * C),
         "final LayerNorm": 2 * C}
for k_, n in parts.items():
    print(f"{k_:26s} {n:12,}  {100 * n / counts['gpt2']:5.1f}%")
print(f"{'total':26s} {sum(parts.values()):12,}")
"""),
    md(r"""
## 6. How a GPT is trained, and what ChatGPT adds

**GPT is trained end to end as a causal language model.** One loss, the cross-entropy of predicting token
$t+1$ from tokens $0 \dots t$ at every position (notebooks 04 and 07), is backpropagated through the
whole network, and every parameter of every layer is updated together at each step. It is not trained
layer by layer, and it is not a masked autoencoder (that is BERT). GPT-1 was then fine-tuned per task;
from GPT-2 on, tasks are posed as text to continue.

One backward pass reaches every parameter:
"""),
    code(r"""
model = GPT(cfg, rng=0, dtype=np.float64)
idx = np.random.default_rng(2).integers(0, cfg.vocab_size, (4, 8))
targets = np.roll(idx, -1, axis=1)  # any next-token targets will do here
logits, loss = model(idx, targets)
print(f"logits {logits.shape}; initial loss {loss.item():.4f} vs log V = {np.log(cfg.vocab_size):.4f}")
loss.backward()
n_with_grad = sum(1 for p in model.parameters() if p.grad is not None and np.any(p.grad != 0))
print(f"parameters with a nonzero gradient after one backward: {n_with_grad} of {len(list(model.parameters()))}")
"""),
    md(r"""
**ChatGPT** is not simply a bigger GPT-3. It is a GPT-3.5 model (the series that followed GPT-3, trained on text and code)
fine-tuned in the way OpenAI described for InstructGPT (Ouyang et al., 2022): first **supervised
fine-tuning** on examples of good answers written by people, then **reinforcement learning from human
feedback** (RLHF): a reward model is trained on human rankings of answers, and the language model is
optimised against it. Notebook 13 shows the first of these steps on npgpt.

## 7. A gradient check of a whole GPT

The final check: every parameter of a tiny two-layer GPT (embeddings, attention, MLP, LayerNorms, the
tied head) against finite differences of the loss, in float64, dropout off.
"""),
    code(r"""
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
"""),
    md(r"""
Relative errors between $10^{-7}$ and $10^{-4}$ ("acceptable") are expected here rather than
$10^{-9}$: with GPT-2's small initial weights many gradients are only about $10^{-6}$, and the finite
difference's rounding noise (about $10^{-10}$ absolute) is a larger fraction of such a number. The
absolute errors are all at that noise level; a wrong backward would show errors of the size of the
gradients themselves.

"""),
    md(
        r"""
## Check yourself

1. Derive $12C^2 + 13C$ per block from the shapes of the layers. How would the count change without
   biases (`bias=False`)?
"""
        + hint(r"""
$(3C^2 + 3C) + (C^2 + C) + (4C^2 + 4C) + (4C^2 + C) + 2\cdot 2C$. Without biases only the LayerNorm
gains remain besides the matrices: $12C^2 + 2C$.
""")
        + r"""

2. How many parameters would GPT-2 small have with an untied output head?
"""
        + hint(r"""
$124{,}439{,}808 + 50257 \cdot 768 = 163{,}037{,}184$.
""")
        + r"""

3. With $L = 48$ (gpt2-xl), what standard deviation do the residual projections start with?
"""
        + hint(r"""
$0.02/\sqrt{96} \approx 0.0020$.
""")
        + r"""

4. Build a `GPTConfig(..., pos_encoding="rope")` and compare its `parameter_count` with the learned
   one. Where does the difference come from?
"""
        + hint(r"""
RoPE has no position table: the difference is `block_size * n_embd`.
""")
        + r"""

5. Check that a fresh model's loss is close to $\log V$ for a few seeds. Why is it, given the
   initialisation?
"""
        + hint(r"""
`ln_f` gives the final hidden state unit scale, and the head's weights are $N(0, 0.02^2)$, so every
logit is about $0.02\sqrt{C}$ in size: nearly equal logits, nearly uniform probabilities, loss near
$\log V$.
""")
        + r"""
"""
    ),
]

# ============================================================================ 11
NB11 = [
    md(r"""
# 11 · Loading GPT-2

npgpt's `GPT` has GPT-2's architecture and GPT-2's parameter names, so OpenAI's released weights load
into it. They are distributed through the HuggingFace hub as a **folder**:

| file | content |
|---|---|
| `config.json` | the hyperparameters: `n_embd`, `n_layer`, `n_head`, `n_positions`, `vocab_size`, `layer_norm_epsilon`, `activation_function`, ... |
| `model.safetensors` | every weight: a JSON header (name, dtype, shape, byte offsets) followed by the raw bytes |
| `pytorch_model.bin` (older) | the same weights as a Python *pickle*: npgpt refuses these (section 5) |

`GPT.from_hf(folder)` reads such a folder (`npgpt/nn/hf.py`), `model.save_hf(folder)` writes one. This
notebook needs no network: it builds a small random GPT-2 with `transformers` locally, saves it, loads
it with npgpt and compares the logits. To use the real GPT-2 small, download the folder once (e.g.
`huggingface-cli download gpt2 --local-dir gpt2`) and call `GPT.from_hf("gpt2")`.
"""),
    code(r"""
import json
import os
import struct
import tempfile
import warnings

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
from safetensors.numpy import load_file

import npgpt
from npgpt.nn import GPT, GPTConfig

np.set_printoptions(precision=4, suppress=True)
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm, imported by transformers
workdir = tempfile.mkdtemp(prefix="npgpt_hf_")

try:
    import torch
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    HAVE_HF = True
    print("transformers", transformers.__version__, "/ torch", torch.__version__)
except ImportError as e:
    if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":  # set in CI: there a missing reference is an error
        raise
    HAVE_HF = False
    print(f"transformers/torch are not installed ({e}); the cells that need them will say so and skip.\n"
          "Install them with: pip install torch transformers")
"""),
    md(r"""
## 1. A GPT-2 checkpoint made locally

A `GPT2LMHeadModel` with a small random configuration, saved with `save_pretrained` in the safetensors
format: the same layout as the files on the hub, only smaller. (Without transformers we let npgpt write
the folder instead, so the rest of the notebook still runs.)
"""),
    code(r"""
hf_dir = os.path.join(workdir, "tiny-gpt2")
if HAVE_HF:
    torch.manual_seed(0)
    hf_config = GPT2Config(vocab_size=100, n_positions=32, n_embd=48, n_layer=2, n_head=4,
                           bos_token_id=99, eos_token_id=99)
    hf_model = GPT2LMHeadModel(hf_config).eval()
    hf_model.save_pretrained(hf_dir, safe_serialization=True)
else:
    GPT(GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=4, n_embd=48), rng=0).save_hf(hf_dir)
print(sorted(os.listdir(hf_dir)))
with open(os.path.join(hf_dir, "config.json")) as f:
    cfg_json = json.load(f)
print({k: cfg_json[k] for k in ["model_type", "n_embd", "n_layer", "n_head", "n_positions", "vocab_size",
                                "layer_norm_epsilon", "activation_function"]})
"""),
    md(r"""
## 2. Inside `model.safetensors`

The format is deliberately simple: 8 bytes giving the header length (little-endian), a JSON header,
then the tensors' bytes. Reading it executes nothing; it is data only. Here is the header, read with
plain Python:
"""),
    code(r"""
path = os.path.join(hf_dir, "model.safetensors")
with open(path, "rb") as f:
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
print(f"file size {os.path.getsize(path):,} bytes, header {header_len} bytes, {len(header) - 1} tensors")
for name in sorted(header)[:14]:
    if name != "__metadata__":
        print(f"  {name:34s} {header[name]['dtype']:4s} {header[name]['shape']}")
"""),
    md(r"""
## 3. Conv1D: input-major weights

Two things stand out in the list above. Names start with `transformer.` (the body of `GPT2LMHeadModel`;
the original hub files have no prefix, and `from_hf` accepts both), and the projection weights have
shape `(in, out)`: `c_attn.weight` is `(48, 144)`, i.e. $(C, 3C)$. GPT-2's code uses a layer called
`Conv1D` that computes
$$y = x\,W + b, \qquad W \in \mathbb{R}^{\text{in} \times \text{out}},$$
whereas `torch.nn.Linear` and npgpt's `Linear` store $W \in \mathbb{R}^{\text{out} \times \text{in}}$ and
compute $y = x\,W^\top + b$. Same numbers, transposed storage. So `from_hf` transposes the four Conv1D
weights of each block (`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`) on the way in, and
`save_hf` transposes them back. Embeddings and LayerNorms are stored the same way in both.

The output head `lm_head.weight` is tied to `wte`; `from_hf` checks that any stored copy is equal to it.
"""),
    code(r"""
model = GPT.from_hf(hf_dir)  # float32, eval mode
print(model.config)
raw = load_file(path)
ours = model.transformer.h[0].attn.c_attn.weight.numpy()
theirs = raw["transformer.h.0.attn.c_attn.weight"]
print("file (Conv1D, in x out):", theirs.shape, "   npgpt (Linear, out x in):", ours.shape)
print("npgpt weight == file weight transposed:", np.array_equal(ours, theirs.T))

x = np.random.default_rng(0).standard_normal((3, 48)).astype(np.float32)
conv1d_y = x @ theirs + raw["transformer.h.0.attn.c_attn.bias"]
linear_y = model.transformer.h[0].attn.c_attn(npgpt.tensor(x)).numpy()
print(f"Conv1D x @ W + b  vs  npgpt Linear x @ W^T + b: max diff {np.abs(conv1d_y - linear_y).max():.1e}")
"""),
    md(r"""
## 4. Logits match transformers

The real test: the same token ids through both models. In float32 the two differ by rounding only
(different summation orders); loading the weights into a float64 npgpt model and running transformers
in float64 too shows agreement to about $10^{-15}$.
"""),
    code(r"""
idx = np.random.default_rng(1).integers(0, 100, (2, 12))
with npgpt.no_grad():
    ours32 = model(idx)[0].numpy()
if not HAVE_HF:
    print("transformers/torch are not installed: skipping the comparison with the reference GPT2LMHeadModel")
else:
    with torch.no_grad():
        ref32 = hf_model(torch.as_tensor(idx)).logits.numpy()
        ref64 = hf_model.double()(torch.as_tensor(idx)).logits.numpy()
    with npgpt.no_grad():
        ours64 = GPT.from_hf(hf_dir, dtype=np.float64)(idx)[0].numpy()
    print(f"logits {ours32.shape}, largest |logit| {np.abs(ref32).max():.3f}")
    print(f"float32: max |npgpt - transformers| = {np.abs(ours32 - ref32).max():.2e}")
    print(f"float64: max |npgpt - transformers| = {np.abs(ours64 - ref64).max():.2e}")
    print("same next-token choices:", np.array_equal(ours32.argmax(-1), ref32.argmax(-1)))
    assert np.abs(ours32 - ref32).max() < 1e-5 and np.abs(ours64 - ref64).max() < 1e-12
"""),
    md(r"""
And the other direction: a model trained with npgpt, saved with `save_hf`, is a folder transformers
loads as it would any GPT-2.
"""),
    code(r"""
ours_dir = os.path.join(workdir, "from-npgpt")
npgpt_model = GPT(GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=4, n_embd=48), rng=3)
npgpt_model.save_hf(ours_dir)
print(sorted(os.listdir(ours_dir)))
with npgpt.no_grad():
    ours = npgpt_model(idx)[0].numpy()
reloaded = GPT.from_hf(ours_dir)
with npgpt.no_grad():
    print("npgpt -> save_hf -> from_hf, max diff:", np.abs(reloaded(idx)[0].numpy() - ours).max())
if HAVE_HF:
    back = GPT2LMHeadModel.from_pretrained(ours_dir).eval()
    with torch.no_grad():
        theirs = back(torch.as_tensor(idx)).logits.numpy()
    print(f"npgpt -> save_hf -> transformers, max diff: {np.abs(theirs - ours).max():.2e}")
else:
    print("transformers/torch are not installed: skipping the load into GPT2LMHeadModel")
"""),
    md(r"""
## 5. Why `.bin` files are refused

`pytorch_model.bin`, `.pt`, `.pth` and `.ckpt` files are Python pickles. Unpickling is not just reading
data: a pickle can name any importable function and have it called with arguments of its choosing, so
loading a file from the internet can run arbitrary code on your machine. npgpt never unpickles
anything; it reads only safetensors and JSON, and a folder that has only a pickle gets a clear error
telling you how to convert it once, in an environment you trust. The file is not even opened: a
placeholder is enough to show the refusal.
"""),
    code(r"""
pickle_dir = os.path.join(workdir, "old-style")
os.makedirs(pickle_dir, exist_ok=True)
with open(os.path.join(pickle_dir, "config.json"), "w") as f:
    json.dump(cfg_json, f)
with open(os.path.join(pickle_dir, "pytorch_model.bin"), "wb") as f:
    f.write(b"placeholder: npgpt refuses the file by its name and never reads it")
try:
    GPT.from_hf(pickle_dir)
except ValueError as e:
    print("ValueError:", e)
"""),
    md(
        r"""
## Check yourself

1. Which four weights per block are transposed when loading GPT-2, and why not `wte`, `wpe` or the
   LayerNorms?
"""
        + hint(r"""
`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`: the Conv1D layers. Embeddings are lookup tables
stored `(V, C)` and `(T, C)` in both libraries; LayerNorm parameters are vectors.
""")
        + r"""

2. `c_attn.weight` of GPT-2 small is stored as `(768, 2304)`. Which columns hold the queries, the
   keys and the values?
"""
        + hint(r"""
Columns 0-767 the queries, 768-1535 the keys, 1536-2303 the values (in npgpt, after the transpose,
the same ranges of rows); each range is then cut into 12 heads of 64.
""")
        + r"""

3. How many bytes does the float32 `model.safetensors` of GPT-2 small take, roughly? (Notebook 08
   counted the parameters; the tied head is stored once. The hub's file is a little larger: it also
   holds the old causal-mask buffers `attn.bias`, which `from_hf` skips.)
"""
        + hint(r"""
$124{,}439{,}808 \times 4$ bytes $\approx 498$ MB, plus the header.
""")
        + r"""

4. `config.json` says `"activation_function": "gelu_new"`. What does `from_hf` do with a config that
   asks for the exact `"gelu"` instead, and why?
"""
        + hint(r"""
It raises a `ValueError`: npgpt's GPT uses the tanh GELU, and silently computing a slightly different
function (up to $4.7 \times 10^{-4}$ per activation, notebook 08) would make the logits disagree.
""")
        + r"""

5. Edit `config.json` of the tiny folder to `n_layer: 1` and load it. Read the error message: what
   does it list?
"""
        + hint(r"""
The weights of block 1 as "unexpected": `from_hf` lists every missing, unexpected and mis-shaped key
instead of loading part of the model.
""")
        + r"""
"""
    ),
    code(r"""
import shutil

shutil.rmtree(workdir)  # the temporary folders of this notebook (comment out to keep them for exercise 5)
"""),
]


# ============================================================================ writing
NOTEBOOK_CELLS = {
    "04_softmax_and_cross_entropy.ipynb": NB04,
    "05_layer_normalization.ipynb": NB05,
    "06_positional_encoding.ipynb": NB06,
    "07_attention.ipynb": NB07,
    "08_the_gpt_block_and_model.ipynb": NB08,
    "11_loading_gpt2.ipynb": NB11,
}


def main(argv=None):
    return write_or_check(NOTEBOOK_CELLS, argv, "tools/make_notebooks_model.py")


if __name__ == "__main__":
    sys.exit(main())
