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
# # 03 · Broadcasting, reductions, matmul
#
# Most of the backward passes in a transformer are not about calculus but about **shapes**: a bias
# added to every position, a mean over the channels, a weight matrix shared by every token of every
# sequence. This notebook derives the backward of each shape-changing op in npgpt and verifies it
# with `npgpt.gradcheck`:
#
# 1. broadcasting, whose gradient is a **sum** (`unbroadcast`);
# 2. `sum` and `mean`, whose gradient is a broadcast;
# 3. `max`, and what happens with ties;
# 4. `reshape` and `transpose`;
# 5. indexing, where repeated indices must **accumulate** (`np.add.at`);
# 6. matrix products: $dA = dZ\,B^\top$, $dB = A^\top dZ$, batched.

# %%
import inspect
import os

import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.ops.broadcast import unbroadcast

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
summary = []  # (what, shapes, verdict, max rel err) of every check below


def t64(*shape, name=None):
    # a float64 leaf tensor of standard-normal values
    t = npgpt.tensor(rng.standard_normal(shape), requires_grad=True)
    t.name = name
    return t


def check(what, fn, inputs):
    report = npgpt.gradcheck(fn, inputs)
    shapes = " ".join(str(t.shape) for t in inputs)
    summary.append((what, shapes, report.verdict, report.max_rel_err))
    print(f"{what:<34} {shapes:<26} {report.verdict:<11} max rel err {report.max_rel_err:.1e}")
    assert report.ok, report


# %% [markdown]
# **Predict, then run.** In `loss = (a + b).sum()` with `a` of shape `(3, 4)` and `b` of shape `(4,)`,
# every entry of the gradient of `a` is 1. What is the gradient of `b`: ones, threes, or fours? And
# what shape does it have? Write your answer down, then read on.

# %% [markdown]
# ## 1. The gradient of a broadcast is a sum
#
# In $z = a + b$ with $a$ of shape $(3, 4)$ and $b$ of shape $(4,)$, broadcasting uses $b_j$ in every
# row: $z_{ij} = a_{ij} + b_j$. By the multivariate chain rule (a value used several times receives the
# sum of its contributions),
#
# $$\frac{\partial L}{\partial b_j} = \sum_{i} \frac{\partial L}{\partial z_{ij}}\,\frac{\partial z_{ij}}{\partial b_j} = \sum_i g_{ij} .$$
#
# In general a broadcast **copies** an input along new leading axes and along its size-1 axes, and the
# backward of a copy is a **sum over the copies**. npgpt's `unbroadcast(grad, shape)` sums `grad` back
# to the input's shape; every elementwise op calls it on each input's gradient.

# %%
a, b = t64(3, 4), t64(4)
g = rng.standard_normal((3, 4))
(a + b).backward(g)
print("b.grad        =", b.grad)
print("g.sum(axis=0) =", g.sum(axis=0))
print()
print(inspect.getsource(unbroadcast))

# %% [markdown]
# The same as a picture, drawn by `npgpt.viz` from npgpt's own backward: `a` of shape `(3, 1)` is
# copied along the columns, `b` of shape `(1, 4)` along the rows (faded cells are the copies NumPy
# never stores), and with an upstream gradient of ones each input's gradient counts its copies.

# %%
from npgpt import viz

viz.draw_broadcast()

# %% [markdown]
# ### Your turn: the backward of broadcasting
#
# Write `my_unbroadcast(grad, shape)`: sum `grad` back to `shape`, the shape of an input that was
# broadcast to `grad.shape`. It must handle both kinds of copy: new leading axes, and axes of size 1.
# The next cell compares it with npgpt's `unbroadcast` on several pairs of shapes.
#
# *Hint:* first sum away the extra leading axes (`grad.ndim - len(shape)` of them), then sum with
# `keepdims=True` over every axis where `shape` has a 1 and `grad` does not.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_unbroadcast(grad, shape):
#     grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
#     axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
#     return grad.sum(axis=axes, keepdims=True).reshape(shape)
# ```
#
# </details>


# %%
def my_unbroadcast(grad, shape):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# %%
from npgpt.exercises import check_array

for grad_shape, shape in [((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((3, 5), (1, 5)), ((2, 3), ()), ((2, 3), (2, 3))]:
    gg = rng.standard_normal(grad_shape)
    check_array(
        f"my_unbroadcast(grad {grad_shape}, {shape})",
        my_unbroadcast(gg, shape),
        unbroadcast(gg, shape),
        hint="sum over the new leading axes AND over the axes where the input had size 1",
    )

# %% [markdown]
# Summing a gradient of ones shows how many copies each input entry had:

# %%
for grad_shape, shape in [((2, 3, 4), (4,)), ((2, 3, 4), (3, 1)), ((3, 5), (1, 5)), ((2, 3), ())]:
    counts = unbroadcast(np.ones(grad_shape), shape)
    print(f"{str(grad_shape):>10} -> {str(shape):<7} copies per entry: {np.asarray(counts).ravel()}")

# %%
for sa, sb in [((3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4), (2, 1, 4)), ((), (2, 3))]:
    check("a * b (broadcast)", lambda a, b: a * b, [t64(*sa), t64(*sb)])
    check("a - b / 2 (broadcast)", lambda a, b: a - b / 2, [t64(*sa), t64(*sb)])

# %% [markdown]
# ## 2. `sum` and `mean`: the gradient is a broadcast
#
# For $y = \sum_i x_i$ every $\partial y / \partial x_i = 1$: each element gets the output's
# gradient, unchanged. Over an axis, $y_{i} = \sum_j x_{ij}$ gives $\bar x_{ij} = \bar y_i$: the
# backward of a sum is a broadcast, just as the backward of a broadcast is a sum. If the reduced axes
# were dropped (`keepdims=False`), they are first put back as size 1 so the broadcast lines up.
#
# For the mean over $n$ elements, $\bar x_{ij} = \bar y_i / n$.

# %%
print(inspect.getsource(npgpt.ops.reduce.Sum.backward))
print(inspect.getsource(npgpt.ops.reduce._expand))
x = t64(2, 3)
g = np.array([10.0, 20.0])
x.sum(axis=1).backward(g)
print("x.sum(axis=1).backward([10, 20]) gives x.grad =\n", x.grad)

# %%
for axis in [None, 0, -1, (0, 2)]:
    for keepdims in [False, True]:
        check(f"sum(axis={axis}, keepdims={keepdims})", lambda x: x.sum(axis=axis, keepdims=keepdims), [t64(2, 3, 4)])
        check(f"mean(axis={axis}, keepdims={keepdims})", lambda x: x.mean(axis=axis, keepdims=keepdims), [t64(2, 3, 4)])

# %% [markdown]
# ## 3. `max`, and ties
#
# $y = \max_j x_j$ depends only on the largest element: $\partial y / \partial x_j = 1$ for the maximum
# and $0$ for every other element. When $k$ elements **tie** for the maximum the function has a kink
# and no derivative. npgpt gives each tied maximum $\bar y / k$, as `torch.amax` does: the result does
# not depend on the order of the elements, and the gradients still add up to $\bar y$. (An
# argmax-based rule, like `torch.max(x, dim)`, sends everything to one of them: also valid, since any
# convex combination is a subgradient.)

# %%
x = npgpt.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
g = np.array([1.0, 1.0])
x.max(axis=1).backward(g)
print("x =\n", x.data, "\nx.max(axis=1).backward([1, 1]) gives x.grad =\n", x.grad)

# the cross-check against PyTorch: skipped without torch, unless NPGPT_REQUIRE_TORCH=1 (CI) makes it required
try:
    import torch
except ImportError:
    if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
        raise ImportError("NPGPT_REQUIRE_TORCH=1 but torch does not import: the cross-check cannot run") from None
    torch = None
    print("(torch not installed: comparison skipped; pip install torch to run it)")
if torch is not None:
    tx = torch.tensor(x.data, requires_grad=True)
    torch.amax(tx, dim=1).backward(torch.tensor(g))
    print("torch.amax gives\n", tx.grad.numpy())
    assert np.array_equal(tx.grad.numpy(), x.grad), "npgpt's max should split a tie equally, as torch.amax does"
    tx.grad = None
    torch.max(tx, dim=1).values.backward(torch.tensor(g))
    print("torch.max(dim=1) gives\n", tx.grad.numpy())
    assert np.allclose(tx.grad.numpy().sum(axis=1), g), "either rule's gradients add up to g on each row"


# %% [markdown]
# Away from ties `max` is differentiable and the check passes; inputs with distinct values are used:


# %%
def distinct(*shape):
    v = rng.permutation(int(np.prod(shape))) * 0.1  # values at least 0.1 apart
    return npgpt.tensor((v - v.mean()).reshape(shape), requires_grad=True)


for axis in [None, 0, -1, (0, 2)]:
    check(f"max(axis={axis})", lambda x: x.max(axis=axis), [distinct(2, 3, 4)])

# %% [markdown]
# ## 4. `reshape` and `transpose`
#
# Both move values without changing them, so their backward moves the gradient back: a reshape's
# backward reshapes $\bar y$ to the input's shape, and a transpose by a permutation $p$ is undone by
# the inverse permutation, `argsort(p)`. Multi-head attention does exactly this to split channels into
# heads, $(B, T, C) \to (B, T, H, D) \to (B, H, T, D)$:

# %%
print(inspect.getsource(npgpt.ops.shape.Transpose.backward))
B, T, C, H = 2, 3, 8, 2
check("split heads: reshape + transpose", lambda x: x.reshape(B, T, H, C // H).transpose(1, 2), [t64(B, T, C)])
check("merge heads back", lambda x: x.transpose(1, 2).reshape(B, T, C), [t64(B, H, T, C // H)])
check("permute(2, 0, 1)", lambda x: x.permute(2, 0, 1), [t64(2, 3, 4)])

# %% [markdown]
# ## 5. Indexing, and repeated indices
#
# $y = x[\text{idx}]$ copies the selected entries, so $\bar x$ is zero except where entries were
# picked: $\bar x[\text{idx}] \mathrel{+}= \bar y$. With **repeated** indices the plus matters: an entry
# picked three times receives three contributions. Plain assignment `dx[idx] = g` keeps only the last
# one, and even `dx[idx] += g` does (NumPy evaluates it as one buffered read-modify-write);
# `np.add.at(dx, idx, g)` accumulates every one. Token embeddings are exactly this case: the same token
# appears many times in a batch.

# %%
x = t64(5, 3)
idx = np.array([0, 2, 2, 4, 2])  # row 2 is picked three times
g = rng.standard_normal((5, 3))
x[idx].backward(g)

assigned = np.zeros((5, 3))
assigned[idx] = g
buffered = np.zeros((5, 3))
buffered[idx] += g
accumulated = np.zeros((5, 3))
np.add.at(accumulated, idx, g)
print("sum of the three contributions to row 2:", g[idx == 2].sum(axis=0))
print("dx[idx] = g        -> row 2:", assigned[2])
print("dx[idx] += g       -> row 2:", buffered[2])
print("np.add.at          -> row 2:", accumulated[2])
print("npgpt x.grad       -> row 2:", x.grad[2])
assert np.allclose(x.grad, accumulated), "npgpt's indexing backward should accumulate like np.add.at"
assert not np.allclose(assigned[2], accumulated[2]), "plain assignment should lose contributions"

# %%
check("x[idx] with repeats", lambda x: x[idx], [t64(5, 3)])
check("x[idx, idx2] with repeats", lambda x: x[idx, np.array([0, 1, 1, 2, 1])], [t64(5, 3)])
check("x[1:3, ::2]", lambda x: x[1:3, ::2], [t64(4, 5)])
ids = np.array([[1, 3, 1], [0, 1, 2]])
check("embedding, repeated ids", lambda w: F.embedding(ids, w), [t64(4, 6)])

# %% [markdown]
# ## 6. Matrix products
#
# For $Z = AB$ with $A \in \mathbb{R}^{m \times k}$, $B \in \mathbb{R}^{k \times n}$,
# $Z_{ij} = \sum_k A_{ik} B_{kj}$. With $G = \partial L / \partial Z$:
#
# $$\frac{\partial L}{\partial A_{ik}} = \sum_j G_{ij} B_{kj} = (G B^\top)_{ik},
# \qquad
# \frac{\partial L}{\partial B_{kj}} = \sum_i A_{ik} G_{ij} = (A^\top G)_{kj}.$$
#
# A way to remember them: $dA$ must have $A$'s shape $(m, k)$, and the only product of $G$ $(m, n)$ with
# $B$ that has that shape is $G B^\top$; likewise $dB$ $(k, n)$ $= A^\top G$.

# %%
A, Bm = t64(3, 4), t64(4, 5)
G = rng.standard_normal((3, 5))
(A @ Bm).backward(G)
print("max |A.grad - G @ B^T| =", np.abs(A.grad - G @ Bm.data.T).max())
print("max |B.grad - A^T @ G| =", np.abs(Bm.grad - A.data.T @ G).max())
print()
print(inspect.getsource(npgpt.ops.matmul.MatMul.backward))

# %% [markdown]
# **Batched** products apply the formulas to each matrix of the batch, with the batch axes
# broadcasting as in NumPy. A weight $W$ $(C, D)$ applied to activations $X$ $(B, T, C)$ is *broadcast*
# over the batch, so its gradient is the sum over the batch (section 1 again):
# $\bar W = \sum_b X_b^\top G_b$, which is one big product once the batch is folded into the rows,
# $X^\top G$ with $X$ as $(BT, C)$ and $G$ as $(BT, D)$. npgpt's `MatMul` takes that shortcut.

# %%
X, W = t64(2, 3, 4), t64(4, 5)
G = rng.standard_normal((2, 3, 5))
(X @ W).backward(G)
per_batch = sum(X.data[i].T @ G[i] for i in range(2))
folded = X.data.reshape(-1, 4).T @ G.reshape(-1, 5)
print("max |W.grad - sum_b X_b^T G_b| =", np.abs(W.grad - per_batch).max())
print("max |W.grad - X^T G (folded)|  =", np.abs(W.grad - folded).max())

# %%
for sa, sb in [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((1, 3, 4), (2, 4, 2)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((2, 1, 3, 4), (3, 4, 2)),
]:
    check("A @ B", lambda a, b: a @ b, [t64(*sa), t64(*sb)])
check("linear: x @ W^T + b", lambda x, w, b: F.linear(x, w, b), [t64(2, 3, 4), t64(5, 4), t64(5)])

# %% [markdown]
# ## 7. The measured result
#
# Every gradient in this notebook, checked against central finite differences in float64:

# %%
print(f"{'check':<34} {'shapes':<26} {'verdict':<11} max rel err")
for what, shapes, v, err in summary:
    print(f"{what:<34} {shapes:<26} {v:<11} {err:.1e}")
print(f"\n{len(summary)} gradient checks, all passed; worst relative error {max(s[3] for s in summary):.1e}")
assert all(v in ("good", "acceptable") for _, _, v, _ in summary), "a gradient check above reads suspicious or wrong"

# %% [markdown]
# ## Check yourself
#
# 1. In `a + b` with `a` of shape `(3, 4)` and `b` of shape `(1, 4)`, what is `b.grad` in terms of the
#    upstream gradient `g`? And for `b` of shape `(3, 1)`?
#
# <details><summary>Hint</summary>
#
# `g.sum(axis=0, keepdims=True)`, shape `(1, 4)`; and `g.sum(axis=1, keepdims=True)`, shape `(3, 1)`.
# A size-1 axis is kept as size 1, a missing leading axis is summed away.
#
# </details>
#
# 2. Why do the gradients that `max` gives to tied elements sum to $\bar y$, whichever tie rule is
#    used? What would go wrong if each tied maximum received the full $\bar y$?
#
# <details><summary>Hint</summary>
#
# Increasing *all* tied elements by $h$ increases the max by $h$, so the directional derivative along
# $(1, \dots, 1)$ on the tie is 1: a valid gradient's entries on the tie must add up to $\bar y$.
# Giving each the full $\bar y$ would count the output $k$ times.
#
# </details>
#
# 3. Derive the gradient of $Y = X X^\top$ with respect to $X$ (where $X$ is used twice) and check it
#    with `npgpt.gradcheck`.
#
# <details><summary>Hint</summary>
#
# Two uses, two contributions: $\bar X = \bar Y X + \bar Y^\top X = (\bar Y + \bar Y^\top) X$.
# `npgpt.gradcheck(lambda x: x @ x.T, [t64(3, 4)])`.
#
# </details>
#
# 4. Why does `npgpt.ops.shape.GetItem.backward` use `xp.add.at` only for array indices and a plain
#    assignment for slices?
#
# <details><summary>Hint</summary>
#
# A slice (or an integer) never selects the same element twice, so assignment is exact and faster.
# Only an integer *array* index can repeat an entry (`idx = [1, 1]`); a boolean mask selects each entry
# at most once, like a slice.
#
# </details>
#
# 5. A linear layer computes $y = x W^\top + b$ with $x$ $(B, T, C_{in})$ and $W$ $(C_{out}, C_{in})$.
#    Write $\bar x$, $\bar W$ and $\bar b$ with their shapes.
#
# <details><summary>Hint</summary>
#
# With $X$ and $G$ folded to $(BT, C_{in})$ and $(BT, C_{out})$: $\bar X = G W$, $\bar W = G^\top X$
# $(C_{out}, C_{in})$, $\bar b = \sum_{\text{rows}} G$ $(C_{out},)$. Compare with the docstring of
# `npgpt.ops.matmul.Linear`.
#
# </details>
#
# Assignment `lessons/a03_broadcasting_reductions_matmul` has you write `unbroadcast` and the backward
# of `Sum`, `Mean`, `Max` and `MatMul` yourself, inside npgpt (tasks 3.1 to 3.4).

# %% [markdown]
# ## Papers and references
#
# - NumPy's broadcasting rules: <https://numpy.org/doc/stable/user/basics.broadcasting.html>
# - Giles, 2008, *An extended collection of matrix derivative results for forward and reverse mode
#   algorithmic differentiation*: the backward of matmul and friends, derived.
#   <https://people.maths.ox.ac.uk/gilesm/files/NA-08-01.pdf>
