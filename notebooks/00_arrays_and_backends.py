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
# # 00 · Arrays and backends
#
# Everything a GPT computes, from token embeddings to attention scores to gradients, is an
# **n-dimensional array** of floating-point numbers. npgpt stores them as NumPy arrays on the CPU or
# CuPy arrays on an NVIDIA GPU, and runs the *same* code on both.
#
# In this notebook:
#
# 1. arrays: shape, strides, views;
# 2. `float32` versus `float64`, and which one npgpt uses where;
# 3. broadcasting, the rules NumPy uses to combine arrays of different shapes;
# 4. the **array-module** idea, `xp = get_array_module(a)`, that gives one code path for NumPy and CuPy;
# 5. how npgpt picks a device, and what happens when you ask for a GPU that is not there.
#
# Nothing here needs a GPU.

# %%
import inspect
import sys
import time

import numpy as np

import npgpt
from npgpt import backend

np.set_printoptions(precision=4, suppress=True)
print("numpy", np.__version__, "| npgpt", npgpt.__version__)

# %% [markdown]
# ## 1. Arrays: a block of memory plus a shape
#
# An `ndarray` is one contiguous block of memory together with a **shape**, a **dtype** and
# **strides** (how many bytes to step along each axis). In a C-ordered (row-major) array of shape
# $(3, 4)$ and 8-byte floats, element $(i, j)$ sits at byte offset $i \cdot 32 + j \cdot 8$:
# the strides are $(32, 8)$.

# %%
a = np.arange(12, dtype=np.float64).reshape(3, 4)
print(a)
print("shape", a.shape, "| ndim", a.ndim, "| dtype", a.dtype, "| strides", a.strides, "| bytes", a.nbytes)

at = a.T  # a transpose is a *view*: same memory, strides swapped
print(
    "a.T strides",
    at.strides,
    "| shares memory with a:",
    np.shares_memory(a, at),
    "| C-contiguous:",
    at.flags.c_contiguous,
)

# %% [markdown]
# Reshapes and transposes are (usually) free: they make a view with new strides. A GPT uses them
# constantly, for instance to split the channels of a `(B, T, C)` activation into `H` attention heads of
# size `D = C / H`, as `(B, T, H, D)` and then `(B, H, T, D)`:

# %%
B, T, C, H = 2, 3, 8, 2
x = np.arange(B * T * C, dtype=np.float64).reshape(B, T, C)
heads = x.reshape(B, T, H, C // H).transpose(0, 2, 1, 3)
print("x", x.shape, "-> heads", heads.shape, "| a view:", np.shares_memory(x, heads))
print("head 1 of sequence 0 (rows = positions, columns = the head's 4 channels):")
print(heads[0, 1])

# %% [markdown]
# ## 2. float32 versus float64
#
# A binary floating-point number keeps a fixed number of significant bits $p$; the gap between 1 and
# the next representable number is the **machine epsilon** $\varepsilon = 2^{1-p}$:
#
# | dtype | bytes | significant bits $p$ | $\varepsilon$ | about |
# |-------|-------|----------------------|---------------|-------|
# | `float32` | 4 | 24 | $1.19 \times 10^{-7}$ | 7 decimal digits |
# | `float64` | 8 | 53 | $2.22 \times 10^{-16}$ | 16 decimal digits |
#
# Training uses **float32**: half the memory and (on GPUs by far) faster. **Gradient checks** use
# **float64**, because finite differences subtract two nearly equal numbers (notebook 02).

# %%
for dt in (np.float32, np.float64):
    fi = np.finfo(dt)
    print(f"{dt.__name__:8s} eps={fi.eps:.3e}  max={fi.max:.3e}  smallest normal={fi.tiny:.3e}")

print()
print("float32: 1 + 1e-8 == 1 ?", np.float32(1) + np.float32(1e-8) == np.float32(1))
print("float64: 1 + 1e-8 == 1 ?", 1.0 + 1e-8 == 1.0)
print("0.1 + 0.2 =", repr(0.1 + 0.2), " (0.1 has no exact binary representation)")

# %% [markdown]
# Rounding errors accumulate. Adding $0.1$ a million times one after the other (`cumsum`) drifts far
# from $100000$ in float32; `np.sum` uses *pairwise* summation, whose error grows like $\log n$ instead
# of $n$, and stays close even in float32.

# %%
n = 1_000_000
for dt in (np.float32, np.float64):
    v = np.full(n, 0.1, dtype=dt)
    sequential = v.cumsum()[-1]
    pairwise = v.sum()
    print(
        f"{dt.__name__:8s} sequential {sequential:14.6f} (error {abs(sequential - 1e5):.2e})   "
        f"pairwise {pairwise:14.6f} (error {abs(pairwise - 1e5):.2e})"
    )

# %% [markdown]
# ### float16: what half precision gives up
#
# Large models are trained in **mixed precision**: matrix products in 16-bit floats (twice as fast
# and half the memory of float32 on GPUs), with a float32 copy of the weights. IEEE `float16` keeps
# $p = 11$ significant bits ($\varepsilon = 2^{-10} \approx 9.8 \times 10^{-4}$, about 3 decimal
# digits) and 5 exponent bits, so its largest number is 65,504. (`bfloat16`, used on TPUs and recent
# GPUs, keeps float32's 8 exponent bits and only 8 significant bits: float32's range, coarser steps.
# NumPy has no bfloat16.)
#
# **Predict, then run.** A weight equal to 1.0 receives an update of $-10^{-4}$ (a learning
# rate times a gradient). In float16, what is the weight after the update?

# %%
import matplotlib.pyplot as plt

w16 = np.float16(1.0)
print("float16: 1.0 - 0.0001 =", w16 - np.float16(1e-4), "(the update is lost)")
print("float32: 1.0 - 0.0001 =", np.float32(1.0) - np.float32(1e-4))
with np.errstate(over="ignore"):  # the overflow is the point here: no warning
    e12 = np.exp(np.float16(12))
print("float16: exp(12) =", e12, "(overflow: e^12 = 162755 > 65504)")
print("float16: a gradient of 1e-8 becomes", np.float16(1e-8), "(underflow: below the smallest subnormal 6e-8)")

magnitudes = np.logspace(-6, 6, 400)
fig, ax = plt.subplots(figsize=(7, 4))
for dt in (np.float16, np.float32, np.float64):
    fi = np.finfo(dt)
    ok = (magnitudes < fi.max) & (magnitudes > fi.smallest_subnormal)
    spacing = np.spacing(magnitudes[ok].astype(dt)).astype(np.float64)
    ax.loglog(magnitudes[ok], spacing / magnitudes[ok], label=f"{dt.__name__} (eps {fi.eps:.1e})")
ax.axvline(65504, color="grey", ls="--", lw=1)
ax.text(65504, 1e-3, " float16 max\n 65504", fontsize=8, va="center")
ax.set_xlabel("|x|")
ax.set_ylabel("relative gap to the next number")
ax.set_title("how finely each dtype resolves numbers of each size")
ax.legend()
plt.show()
assert w16 - np.float16(1e-4) == w16 and np.isinf(e12)

# %% [markdown]
# The relative gap is flat at $\varepsilon$ across the normal range and grows below it (subnormal
# numbers lose bits). Hence the recipe of Micikevicius et al. (2018): keep float32 **master weights**
# so small updates are not lost, and **scale the loss** (and so every gradient) by a large factor
# before the backward so that small gradients do not underflow to zero in float16, then unscale.
# npgpt stays in float32 on both CPU and GPU, so none of this is needed here.

# %% [markdown]
# npgpt's dtype rules:
#
# * Python floats and lists become **float32**, the training default (as in PyTorch);
# * NumPy arrays **keep their dtype** (a float64 array gives a float64 tensor);
# * npgpt **never upcasts silently**: an op that mixes float32 and float64 raises an error naming the
#   op and the shapes. Convert explicitly with `.double()`, `.float()` or `.to(np.float64)`.

# %%
print(npgpt.tensor([1.0, 2.0]).dtype, "<- from a Python list")
print(npgpt.tensor(np.array([1.0, 2.0])).dtype, "<- from a float64 NumPy array")
print(npgpt.tensor([1.0, 2.0]).double().dtype, "<- .double()")

try:
    npgpt.tensor([1.0, 2.0]) + npgpt.tensor(np.array([1.0, 2.0]))
except TypeError as e:
    print("\nTypeError:", e)


# %% [markdown]
# ## 3. Broadcasting
#
# NumPy combines arrays of different shapes elementwise by **broadcasting**:
#
# 1. align the two shapes on the **right**; a missing leading axis counts as size 1;
# 2. two sizes are compatible when they are **equal** or one of them is **1**;
# 3. the result has the larger size on every axis: a size-1 axis is repeated (virtually) to match.
#
# | shapes | result |
# |--------|--------|
# | `(2, 3, 4)` and `(4,)` | `(2, 3, 4)`: one bias per channel, for every batch and position |
# | `(3, 1)` and `(1, 5)` | `(3, 5)`: an outer sum |
# | `(2, 3, 4)` and `(2, 1, 4)` | `(2, 3, 4)` |
# | `(3, 4)` and `(3,)` | error: 4 and 3 are aligned, and neither is 1 |
#
# Here are the rules written out by hand, compared with `np.broadcast_shapes`:


# %%
def broadcast_shape(sa, sb):
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)  # rule 1
    out = []
    for x, y in zip(sa, sb):
        if x != y and 1 not in (x, y):  # rule 2
            raise ValueError(f"sizes {x} and {y} are incompatible")
        out.append(max(x, y))  # rule 3
    return tuple(out)


pairs = [((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((2, 3, 4), (2, 1, 4)), ((), (2, 3)), ((3, 4), (3,))]
for sa, sb in pairs:
    try:
        mine = broadcast_shape(sa, sb)
    except ValueError as e:
        mine = f"error ({e})"
    try:
        ref = np.broadcast_shapes(sa, sb)
    except ValueError:
        ref = "error"
    print(f"{str(sa):>10} with {str(sb):<10} -> {str(mine):<40} numpy: {ref}")
    assert (ref == "error") == str(mine).startswith("error") and (ref == "error" or mine == ref), (
        f"broadcast_shape{sa, sb} = {mine} disagrees with numpy ({ref})"
    )

# %% [markdown]
# Two broadcasts that appear in every transformer: subtracting a per-row statistic kept with
# `keepdims=True` (shape `(B, T, 1)` against `(B, T, C)`), and adding a bias vector `(C,)`.

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 4))
centered = x - x.mean(axis=-1, keepdims=True)  # (2, 3, 4) - (2, 3, 1)
print("mean over the last axis after centering:", np.abs(centered.mean(axis=-1)).max())
bias = np.array([1.0, 2.0, 3.0, 4.0])
print("(x + bias).shape =", (x + bias).shape)

# %% [markdown]
# ### Your turn: every pair at once
#
# Write `my_sq_dists(a, b)`: for `a` of shape `(N, D)` and `b` of shape `(M, D)`, the `(N, M)` array
# of squared distances $\|a_i - b_j\|^2$, with broadcasting and no Python loop. (Attention's score
# matrix in notebook 07 is the same "every row against every row" pattern.) The next cell compares
# it with two loops and names the first entry that is off.
#
# *Hint:* give `a` and `b` each a new axis of size 1, in different places, so that `a - b`
# broadcasts to `(N, M, D)`; then reduce the axis you no longer need.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_sq_dists(a, b):
#     diff = a[:, None, :] - b[None, :, :]  # (N, 1, D) - (1, M, D) -> (N, M, D)
#     return (diff**2).sum(axis=-1)         # (N, M)
# ```
#
# </details>


# %%
def my_sq_dists(a, b):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    diff = a[:, None, :] - b[None, :, :]
    return (diff**2).sum(axis=-1)


# %%
from npgpt.exercises import check_array

ex = np.random.default_rng(1)
pa, pb = ex.standard_normal((5, 3)), ex.standard_normal((4, 3))
by_loops = np.array([[((pa[i] - pb[j]) ** 2).sum() for j in range(4)] for i in range(5)])
check_array(
    "my_sq_dists(a, b)",
    my_sq_dists(pa, pb),
    by_loops,
    hint="entry (i, j) is the sum over the D features of (a[i] - b[j])**2; the result is (N, M) = (5, 4).",
)

# %% [markdown]
# Broadcasting copies nothing: the repeated axis gets **stride 0**, so every "copy" reads the same
# memory. (And since one number is *used* several times, its gradient will be a **sum** over the
# copies, the subject of notebook 03.)

# %%
row = np.arange(4.0)
b = np.broadcast_to(row, (3, 4))
print(b)
print("strides", b.strides, "| writeable:", b.flags.writeable, "| shares memory:", np.shares_memory(b, row))

# %% [markdown]
# ## 4. One code path for NumPy and CuPy: the array module
#
# [CuPy](https://cupy.dev) implements most of NumPy's API for arrays in GPU memory: `cupy.exp`,
# `cupy.matmul`, `.sum(axis=...)`, broadcasting, all behave as in NumPy. So code that never writes
# `np.` directly, but asks the *array* which module it belongs to, runs on both:
#
# ```python
# xp = get_array_module(a)   # numpy for a NumPy array, cupy for a CuPy array
# y = xp.exp(a - a.max(axis=-1, keepdims=True))
# ```
#
# Every op in npgpt follows this rule. Here is `Exp`, forward and backward:

# %%
from npgpt.backend import get_array_module

print(inspect.getsource(npgpt.ops.elementwise.Exp))
print(inspect.getsource(get_array_module))


# %%
def softmax(a, axis=-1):
    # one code path: NumPy arrays in, NumPy out; CuPy arrays in, CuPy out
    xp = get_array_module(a)
    e = xp.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


logits = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]])
probs = softmax(logits)
print(get_array_module(logits).__name__, "->", probs)
assert np.allclose(probs.sum(axis=-1), 1) and np.allclose(probs[1], 1 / 3), "softmax rows should sum to 1"

# %% [markdown]
# ### Your turn: one function for both devices
#
# Write `my_one_hot(ids, num_classes)`: integer ids of any shape in, float32 one-hot vectors out, of
# shape `ids.shape + (num_classes,)`, made by the array module of `ids` (the target $y$ of
# cross-entropy in notebook 04 is such a vector). The next cell checks the values, then reads your
# function: a call such as `np.zeros(...)` is refused, because it makes a NumPy array even when
# `ids` is a CuPy array on the GPU.
#
# *Hint:* take `xp` from `ids`. Row `ids[b, t]` of the result answers "which of $0, 1, \dots, V - 1$
# equals this id?": that is a comparison, and broadcasting can make all of them at once.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_one_hot(ids, num_classes):
#     xp = get_array_module(ids)
#     return (ids[..., None] == xp.arange(num_classes)).astype(xp.float32)  # (..., 1) == (V,) -> (..., V)
# ```
#
# </details>


# %%
def my_one_hot(ids, num_classes):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    xp = get_array_module(ids)
    return (ids[..., None] == xp.arange(num_classes)).astype(xp.float32)


# %%
from npgpt.exercises import check, check_device_agnostic

tok_ids = np.array([[0, 3, 1], [2, 2, 4]])
one_hot = my_one_hot(tok_ids, 5)
check_array(
    "my_one_hot(ids, 5)", one_hot, np.eye(5)[tok_ids], hint="entry (b, t) is a row of 5 with a single 1, at ids[b, t]."
)
check(one_hot.dtype == np.float32, f"my_one_hot: dtype {one_hot.dtype}, expected float32 (the training dtype)")
check_device_agnostic("my_one_hot", my_one_hot)

# %% [markdown]
# ## 5. Devices: how npgpt picks NumPy or CuPy
#
# A tensor's **device** is not stored anywhere: it *is* the type of its array (`numpy.ndarray` ->
# `"cpu"`, `cupy.ndarray` -> `"cuda"`). `backend.xp_for_device(device)` gives the module for a
# device name. **CuPy is imported only when a GPU is actually asked for**, never when npgpt is
# imported, so npgpt works on machines without CuPy. `npgpt.cuda_available()` says whether CuPy
# imports *and* sees a GPU; it never raises.

# %%
t = npgpt.tensor([[1.0, 2.0], [3.0, 4.0]])
print("device:", t.device, "| array type:", type(t.data).__module__ + "." + type(t.data).__name__)
print("xp_for_device('cpu') is numpy:", backend.xp_for_device("cpu") is np)
print("cupy imported so far:", "cupy" in sys.modules)
print("npgpt.cuda_available():", npgpt.cuda_available())

# %% [markdown]
# Asking for `"cuda"` without CuPy or without a GPU raises a `npgpt.DeviceError` that says what is
# missing and how to install it; an unknown device name is refused the same way.

# %%
try:
    g = npgpt.tensor([1.0, 2.0, 3.0], device="cuda")
    print("a GPU is here:", g.device, "| (g * 2).to('cpu') =", (g * 2).to("cpu"))
except npgpt.DeviceError as e:
    assert not npgpt.cuda_available(), "a DeviceError although cuda_available() said a GPU is here"
    print("DeviceError:", e)

try:
    npgpt.tensor([1.0, 2.0, 3.0], device="tpu")
    raise AssertionError("an unknown device name should be refused")
except npgpt.DeviceError as e:
    print("DeviceError:", e)


# %% [markdown]
# Inside one op all inputs must live on one device (npgpt raises a `DeviceError` naming the op
# otherwise), and `t.to("cuda")` / `t.to("cpu")` are differentiable copies. Notebook 16 runs a whole
# model on the GPU.
#
# ## 6. A measured result: what float64 costs
#
# The same matrix product in both precisions on this CPU (the numbers depend on the machine; on a
# GPU the gap is much larger):


# %%
def best_time(f, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


n = 384
results = {}
for dt in (np.float32, np.float64):
    A = rng.standard_normal((n, n)).astype(dt)
    Bm = rng.standard_normal((n, n)).astype(dt)
    results[dt.__name__] = best_time(lambda: A @ Bm)
    print(
        f"{dt.__name__}: {n}x{n} @ {n}x{n} in {1e3 * results[dt.__name__]:.2f} ms, "
        f"{A.nbytes / 2**20:.2f} MiB per matrix, {2 * n**3 / results[dt.__name__] / 1e9:.1f} GFLOP/s"
    )
print(f"float64 / float32 time: {results['float64'] / results['float32']:.2f}x")

# %% [markdown]
# (Timings depend on the machine, so nothing asserts them.) The facts this notebook stated, checked:
# the notebook fails here if one of them is wrong.

# %%
assert broadcast_shape((2, 1, 5), (3, 1)) == np.broadcast_shapes((2, 1, 5), (3, 1)) == (2, 3, 5)
assert np.finfo(np.float32).eps == 2.0**-23 and np.finfo(np.float64).eps == 2.0**-52, "eps = 2^(1-p)"
assert np.float32(1) + np.float32(1e-8) == np.float32(1) and 1.0 + 1e-8 != 1.0, "float32 loses 1e-8 next to 1"
assert a.T.strides == a.strides[::-1] and np.shares_memory(a, a.T), "a transpose is a view with swapped strides"
assert b.strides[0] == 0, "a broadcast axis has stride 0"
assert npgpt.tensor([1.0]).dtype == np.float32 and npgpt.tensor(np.array([1.0])).dtype == np.float64
mixed_refused = False
try:
    npgpt.tensor([1.0]) + npgpt.tensor(np.array([1.0]))
except TypeError:
    mixed_refused = True
assert mixed_refused, "mixing float32 and float64 should raise, never upcast silently"
print("all checks passed")

# %% [markdown]
# ## Check yourself
#
# 1. What is the shape of `np.ones((2, 1, 5)) + np.ones((3, 1))`? Check with `broadcast_shape`.
#
# <details><summary>Hint</summary>
#
# Align on the right: `(2, 1, 5)` and `(1, 3, 1)`; every axis takes the larger size: `(2, 3, 5)`.
#
# </details>
#
# 2. Which of these combinations raise: `(4, 3) + (4,)`, `(4, 3) + (3,)`, `(2, 3, 4) + (3, 1)`,
#    `(4, 3) + (4, 1)`?
#
# <details><summary>Hint</summary>
#
# Only `(4, 3) + (4,)`: aligned on the right, 3 meets 4. `(2, 3, 4) + (3, 1)` works, giving `(2, 3, 4)`.
#
# </details>
#
# 3. Write `center(a)`, subtracting each row's mean, so that it runs unchanged on CuPy arrays.
#
# <details><summary>Hint</summary>
#
# `xp = get_array_module(a)` is not even needed here: `a - a.mean(axis=-1, keepdims=True)` only uses
# array methods. You need `xp` for functions such as `xp.exp`, `xp.zeros`, `xp.where`.
#
# </details>
#
# 4. Why does training run in float32 but gradient checking in float64?
#
# <details><summary>Hint</summary>
#
# A central difference divides a rounding error of about $\varepsilon |f|$ by $2h$. With $h = 10^{-6}$,
# float32's $\varepsilon \approx 10^{-7}$ gives errors near $0.1$; float64's $10^{-16}$ gives $10^{-10}$.
# Training only needs a good enough descent direction, and float32 halves memory and time.
#
# </details>
#
# 5. What does `npgpt.tensor(np.arange(3))` give: can it require a gradient?
#
# <details><summary>Hint</summary>
#
# An int64 tensor (arrays keep their dtype). `requires_grad=True` is refused: only floating-point
# tensors have gradients. Ops that need floats (`exp`, `tanh`, `/`, ...) refuse integer inputs with a
# message saying how to convert; `+`, `*` and indexing work on integers too.
#
# </details>

# %% [markdown]
# ## Papers and references
#
# - Goldberg, 1991, *What Every Computer Scientist Should Know About Floating-Point Arithmetic*.
#   <https://docs.oracle.com/cd/E19957-01/806-3568/ncg_goldberg.html>
# - Micikevicius et al., 2018, *Mixed Precision Training*: float16 with float32 master weights and
#   loss scaling. <https://arxiv.org/abs/1710.03740>
# - Harris et al., 2020, *Array programming with NumPy*, Nature 585. <https://doi.org/10.1038/s41586-020-2649-2>
