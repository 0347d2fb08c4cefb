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
# # 16 · The GPU
#
# Notebook 00 introduced the **array module** idea: an op never calls `numpy` directly, it asks its
# inputs which module holds them (`xp = get_array_module(x)`) and calls `xp.exp`, `xp.matmul`, ...
# [CuPy](https://cupy.dev) implements NumPy's API on NVIDIA GPUs, so when the arrays are CuPy arrays the
# *same* forward and backward code runs on the GPU. No op, no layer, no optimizer has a GPU version.
#
# This notebook, on a real model:
#
# 1. how npgpt decides whether a GPU is there (`npgpt.cuda_available()`), and the error you get when
#    you ask for one that is not;
# 2. what moves to the device (parameters, gradients, optimizer state, batches), with `device="cuda"` or
#    `model.to("cuda")`;
# 3. what must **not** cross between host and device inside a training step, and why
#    `clip_grad_norm_` returns a device scalar on CuPy;
# 4. where a GPU exists: the same numbers as the CPU, a training run, and the measured speed-up;
# 5. what limits a GPU, with numbers anyone can check: the arithmetic intensity of npgpt's own matmul,
#    attention and LayerNorm, a roofline from published datasheet numbers, why generating one token is
#    memory-bound, and what bf16 and TF32 change.
#
# On a machine without a GPU (like the CI that runs these notebooks) every GPU cell says so and the
# same code runs on the CPU.

# %%
import inspect
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import npgpt
from npgpt.backend import DeviceError, device_of, get_array_module, to_device, xp_for_device
from npgpt.data import TextDataset, load_text, shakespeare_path
from npgpt.memory import tune_malloc
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, clip_grad_norm_, param_groups_for_weight_decay
from npgpt.train import TrainConfig, train

tune_malloc()
cupy_at_import = "cupy" in sys.modules
print("CuPy imported by `import npgpt`?", cupy_at_import)
HAVE_GPU = npgpt.cuda_available()
DEVICE = "cuda" if HAVE_GPU else "cpu"
print("npgpt.cuda_available():", HAVE_GPU, "-> this notebook runs on", DEVICE)

# %% [markdown]
# ## 1. How npgpt decides
#
# `import npgpt` never imports CuPy (above: it is not in `sys.modules`), so npgpt works where CuPy is not
# installed. CuPy is imported the first time a CUDA array or device is asked for. `cuda_available()`
# tries exactly that and answers `True` only if CuPy imports **and** the CUDA runtime reports at least
# one GPU; it never raises (no CuPy, no driver, no device: all `False`).

# %%
import npgpt.backend

print(inspect.getsource(npgpt.backend.cupy_module))
print(inspect.getsource(npgpt.backend.cuda_available))

# %% [markdown]
# Asking for the GPU where there is none fails at once, with a `DeviceError` that says what is missing
# and how to install it; `npgpt train --device cuda` prints the same message after `npgpt train:` and
# exits with status 2. Where a GPU exists, the same lines simply work.

# %%
ds = TextDataset(load_text(shakespeare_path()))
cfg = GPTConfig(vocab_size=ds.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128)  # npgpt train's model
device_error = None
try:
    gpu_model = GPT(cfg, rng=0, device="cuda")
    print("built on", gpu_model.transformer.wte.weight.device)
    t = npgpt.tensor([1.0, 2.0], device="cuda")
    print("a tensor on the GPU:", t.device, type(t.data))
except DeviceError as e:
    device_error = e
    print("DeviceError:", e)

# %% [markdown]
# ## 2. The array module, and three helpers for devices
#
# Notebook 00 (section 4) taught the array module: `get_array_module(a)` gives `numpy` or `cupy`, and
# every op takes its `xp` from its inputs. For devices, `npgpt/backend.py` adds three small functions:
#
# * `device_of(a)`: `"cpu"` or `"cuda"`;
# * `to_device(a, device)`: a copy on the other device (or `a` itself if it is already there);
# * `xp_for_device(device)`: the module that makes new arrays on `device`.

# %%
a = np.ones(3, dtype=np.float32)
print(
    "get_array_module:",
    get_array_module(a).__name__,
    "  device_of:",
    device_of(a),
    "  xp_for_device('cpu'):",
    xp_for_device("cpu").__name__,
)
if HAVE_GPU:
    g = to_device(a, "cuda")
    print("after to_device(a, 'cuda'):", get_array_module(g).__name__, device_of(g), type(g))

# %% [markdown]
# ## 3. What moves to the device
#
# Everything the training step touches must live on the device:
#
# * the **parameters**: `GPT(cfg, device="cuda")` creates them there, or `model.to("cuda")` moves a model
#   built on the CPU. `to` keeps the same `Parameter` objects and rebinds their `.data`, so an optimizer
#   made before the move still holds the right objects;
# * the **gradients**: the backward computes them from the device arrays, so they are born there;
# * the **optimizer state**: AdamW creates $m$ and $v$ at its first step with `xp.zeros_like(p.data)`,
#   so they land next to the parameter, with no change to the optimizer;
# * the **batches**: token ids are drawn on the host (NumPy) and copied over with `to_device`. That copy
#   is small (`x` and `y`, $2 \times B \times T$ int64 ids: 12 KB for batch 12 and context 64) and
#   happens once per step in `npgpt train`; a benchmark uploads its batches in advance so that it is
#   not timed.
#
# The same lines run on the CPU, where `to` and `to_device` have nothing to do:

# %%
model = GPT(cfg, rng=0)  # built on the CPU
opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))
before_move = [id(p) for p in model.parameters()]
model.to(DEVICE)  # same Parameter objects, .data now on DEVICE
same_objects = before_move == [id(p) for p in model.parameters()]
x, y = ds.get_batch("train", 12, cfg.block_size, np.random.default_rng(0))
x, y = to_device(x, DEVICE), to_device(y, DEVICE)

_, loss = model(x, y)
opt.zero_grad()
loss.backward()
opt.step()


def devices(arrays):
    return sorted({device_of(a) for a in arrays})


def megabytes(arrays):
    return sum(a.nbytes for a in arrays) / 2**20


params = [p.data for p in model.parameters()]
grads = [p.grad for p in model.parameters()]
state = [st[k] for st in opt.state.values() for k in ("exp_avg", "exp_avg_sq")]
for name, arrays in [("parameters", params), ("gradients", grads), ("AdamW m and v", state), ("batch", [x, y])]:
    print(f"{name:<14} on {devices(arrays)}: {megabytes(arrays):6.2f} MB")
print(f"loss {loss.item():.4f}")

# %% [markdown]
# ## 4. What must not move inside a training step
#
# A GPU works **asynchronously**: each CuPy call only queues a kernel and returns, so Python runs ahead
# and keeps the GPU busy. Anything that copies a result from the device to the host, `loss.item()`,
# `float(x)`, `print(array)`, an `if` on a device value, has to wait until everything queued before it
# has run: a **synchronisation** that leaves the GPU idle while Python catches up. (NumPy refuses CuPy
# arrays outright: `np.asarray(cupy_array)` raises a `TypeError`, so such a copy cannot happen by accident
# inside an op.) Copies the other way (re-uploading weights or state) are pure waste.
#
# So, inside a step, nothing crosses: parameters, gradients and optimizer state stay on the device for
# the whole run. The one place where a training step naturally wants a number on the host is gradient
# clipping: "is the norm above `max_norm`?". `clip_grad_norm_` makes that decision **on the device**: on
# CuPy it computes the factor $\min(c / (n + \epsilon), 1)$ as a device array and multiplies by it
# unconditionally, and returns the norm as a 0-d device array; only on NumPy does it return a Python float.
# Both branches, in `npgpt/optim/`:

# %%
print(inspect.getsource(clip_grad_norm_))


# %% [markdown]
# A device-agnostic training step, used for everything below. It reads nothing back: the loss and the
# norm are returned as they are (device values on CuPy), and the caller converts them only when it
# logs, every so many steps rather than every step.


# %%
def train_steps(model, opt, batches, max_norm=1.0):
    # forward, backward, clip, AdamW for each (x, y) already on the model's device; nothing read back
    for x, y in batches:
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
    return loss, norm


rng = np.random.default_rng(1)
batches = [tuple(to_device(a, DEVICE) for a in ds.get_batch("train", 12, cfg.block_size, rng)) for _ in range(3)]
loss, norm = train_steps(model, opt, batches)
print(
    f"on {DEVICE}: clip_grad_norm_ returned {type(norm).__module__}.{type(norm).__name__}; "
    f"logged: loss {float(loss.item()):.4f}, norm {float(norm):.4f}"
)

# %% [markdown]
# ### Your turn: clipping that never waits for the GPU
#
# Write `my_clip_grad_norm_(grads, max_norm, eps=1e-6)` for a list of gradient arrays: compute their
# global L2 norm $n$, multiply every gradient **in place** by $\min(c / (n + \epsilon), 1)$ with
# $c$ = `max_norm`, and return $n$ as an array, never as a Python number. Write it once for both
# devices: `xp` from the input, no `np.` call, nothing read back to the host (no `float(...)`,
# `.item()`, or `if` on the norm). The next cell compares it with `clip_grad_norm_` on this model's
# gradients, once where it must clip and once where it must not, then reads your code for `np.`
# calls, host reads and branches. (The library's version also leaves the gradients alone when the
# norm is inf or NaN; yours need not.)
#
# *Hint:* the norm is a square root of a sum over all the gradients. An `if n > max_norm:` needs the
# value on the host; instead compute a factor that is already 1 when no clipping is needed (an `xp`
# function can take the smaller of two numbers) and multiply by it unconditionally.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_clip_grad_norm_(grads, max_norm, eps=1e-6):
#     xp = get_array_module(grads[0])
#     total = xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads))  # a 0-d array, on the device
#     coef = xp.minimum(max_norm / (total + eps), 1.0)                          # 1 when no clipping is needed
#     for g in grads:
#         g *= coef.astype(g.dtype)                                             # in place, no decision on the host
#     return total
# ```
#
# </details>


# %%
def my_clip_grad_norm_(grads, max_norm, eps=1e-6):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    xp = get_array_module(grads[0])
    total = xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads))
    coef = xp.minimum(max_norm / (total + eps), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return total


# %%
from types import SimpleNamespace

from npgpt.exercises import check_array, check_device_agnostic

for max_norm in (0.1, 1e3):  # the first clips these gradients, the second leaves them as they are
    mine = [to_device(p.grad, "cpu").copy() for p in model.parameters()]
    ref = [SimpleNamespace(grad=g.copy()) for g in mine]
    my_norm = my_clip_grad_norm_(mine, max_norm)
    ref_norm = clip_grad_norm_(ref, max_norm)
    check_array(f"my_clip_grad_norm_'s norm (max_norm={max_norm})", my_norm, ref_norm, hint="the norm BEFORE clipping.")
    check_array(
        f"my_clip_grad_norm_'s gradients (max_norm={max_norm})",
        np.concatenate([g.ravel() for g in mine]),
        np.concatenate([r.grad.ravel() for r in ref]),
        hint="every gradient times min(max_norm / (norm + eps), 1), in place.",
    )
check_device_agnostic("my_clip_grad_norm_", my_clip_grad_norm_, branches=False)

# %% [markdown]
# On a GPU we can prove that a step makes no device-to-host copy: inside
# `cupyx.allow_synchronize(False)` any synchronising copy raises an error (the test
# `tests/test_cuda_training.py` does the same, and also counts host-to-device uploads).

# %%
if HAVE_GPU:
    import cupy
    import cupyx

    with cupyx.allow_synchronize(False):  # a device-to-host copy in here would raise
        loss, norm = train_steps(model, opt, batches)
    cupy.cuda.Device().synchronize()
    print("3 training steps, no synchronising copy; the loss is", type(loss.data).__module__, "array", loss.item())
else:
    print("no GPU here: skipping the synchronisation check (on the CPU there is nothing to copy)")

# %% [markdown]
# ## 5. The same numbers on both devices
#
# The GPU runs the same formulas, so in float64 the loss and every gradient agree with the CPU to
# rounding (about $10^{-12}$); in float32 they agree to float32 rounding (typically around $10^{-6}$
# relative), because the GPU's matrix products and sums add their terms in a different order.

# %%
if HAVE_GPU:
    small = GPTConfig(vocab_size=ds.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    cpu64 = GPT(small, rng=0, dtype=np.float64)
    gpu64 = GPT(small, rng=0, dtype=np.float64).to("cuda")
    xb, yb = ds.get_batch("train", 8, 32, np.random.default_rng(2))
    lc, lg = cpu64(xb, yb)[1], gpu64(to_device(xb, "cuda"), to_device(yb, "cuda"))[1]
    lc.backward()
    lg.backward()
    worst = max(
        np.abs(to_device(pg.grad, "cpu") - pc.grad).max() for pc, pg in zip(cpu64.parameters(), gpu64.parameters())
    )
    print(f"float64 loss: cpu {lc.item():.15f}, gpu {lg.item():.15f}; largest gradient difference {worst:.1e}")
    assert abs(lc.item() - lg.item()) < 1e-10 and worst < 1e-10, "in float64 the GPU should match the CPU to rounding"
else:
    print("no GPU here: nothing to compare (tests/test_cuda_training.py checks this where CuPy and a GPU exist)")


# %% [markdown]
# ### Why big matrices use the hardware better
#
# **Predict, then run.** The cell times an $n \times n$ matrix product for growing $n$ and divides the
# $2n^3$ floating-point operations by the time. Will the rate (GFLOP/s) stay the same for every size?

# %%
import matplotlib.pyplot as plt

sizes_n = [16, 32, 64, 128, 256, 512, 768]
curves = {"cpu": []}
if HAVE_GPU:
    curves["cuda"] = []
for device in curves:
    xp_d = xp_for_device(device)
    sync = xp_d.cuda.Device().synchronize if device == "cuda" else (lambda: None)
    for n in sizes_n:
        a = xp_d.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype=np.float32)
        reps = max(3, int(2e7 / n**3))
        _ = a @ a  # warm-up
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            _ = a @ a
        sync()
        curves[device].append(2 * n**3 * reps / (time.perf_counter() - t0) / 1e9)
plt.figure(figsize=(6, 3.8))
for device, rates in curves.items():
    plt.loglog(sizes_n, rates, "o-", label=device)
plt.xticks(sizes_n, [str(n) for n in sizes_n])  # the sizes measured, not log-scale tick labels
plt.minorticks_off()
plt.xlabel("n (an n x n float32 matrix product)")
plt.ylabel("GFLOP/s")
plt.title("small products are dominated by overhead, not arithmetic")
plt.legend()
plt.show()
print("cpu GFLOP/s:", [round(r, 1) for r in curves["cpu"]])
assert curves["cpu"][-1] > curves["cpu"][0]

# %% [markdown]
# The rate climbs with $n$ until the arithmetic units are busy: a small product is mostly the fixed cost
# of a call (and on a GPU, of a kernel launch, a few microseconds). A GPU's peak is tens of times a
# CPU's, but it needs much bigger matrices to reach it, which is why the speed-up below grows with the
# size of the model.

# %% [markdown]
# ## 6. The speed-up
#
# A fair timing of a GPU waits for it: `cupy.cuda.Device().synchronize()` before starting and before
# stopping the clock, after a few warm-up steps (the first calls compile and cache kernels, and grow
# CuPy's memory pool). The batches are uploaded in advance. The numbers are milliseconds per training
# step (forward, backward, clip, AdamW).
#
# How large the speed-up is depends on the size of the model. Every op is at least one kernel launch
# (a few microseconds), and a small model's step is hundreds of small ops: the GPU is then limited by
# launches, not arithmetic. The bigger the matrices, the more of the GPU's arithmetic is used, so the
# table also times a larger model (6 blocks, width 384, context 256) where a GPU is present.


# %%
def ms_per_step(device, cfg, batch_size, steps, warmup=3):
    model = GPT(cfg, rng=0, device=device)
    opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    batches = [
        tuple(to_device(a, device) for a in ds.get_batch("train", batch_size, cfg.block_size, rng))
        for _ in range(warmup + steps)
    ]
    sync = xp_for_device(device).cuda.Device().synchronize if device == "cuda" else (lambda: None)
    train_steps(model, opt, batches[:warmup])
    sync()
    t = time.perf_counter()
    train_steps(model, opt, batches[warmup:])
    sync()
    return (time.perf_counter() - t) / steps * 1e3


sizes = {"npgpt train's model: 4 x 128, T 64, B 12": (cfg, 12)}
if HAVE_GPU:
    sizes["larger: 6 x 384, T 256, B 8"] = (
        GPTConfig(vocab_size=ds.vocab_size, block_size=256, n_layer=6, n_head=6, n_embd=384),
        8,
    )
for name, (c, B) in sizes.items():
    cpu_ms = ms_per_step("cpu", c, B, steps=10 if c.n_embd < 256 else 3)
    if HAVE_GPU:
        gpu_ms = ms_per_step("cuda", c, B, steps=20)
        print(f"{name:<42} cpu {cpu_ms:8.1f} ms/step   gpu {gpu_ms:7.2f} ms/step   speed-up {cpu_ms / gpu_ms:5.1f}x")
    else:
        print(f"{name:<42} cpu {cpu_ms:8.1f} ms/step   (no GPU here: no speed-up to measure)")

# %% [markdown]
# Finally a short training run on the GPU with the library's `train()`: `TrainConfig(device="cuda")` is
# all it takes (`npgpt train --device cuda` on the command line). On a CPU-only machine this cell only
# says so; section 8 of notebook 10 runs the CPU version.

# %%
if HAVE_GPU:
    workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb16-"))
    run = {}
    for device in ("cpu", "cuda"):
        res = train(
            TrainConfig(
                out_dir=str(workdir / device),
                device=device,
                max_steps=200,
                warmup_steps=20,
                eval_interval=100,
                eval_batches=5,
                progress=False,
                sample_chars=0,
            ),
            log=lambda *a: None,
        )
        run[device] = res
        print(
            f"{device:>4}: 200 steps in {res.seconds:5.1f} s (evaluations and checkpoints included), "
            f"val loss {res.val_loss:.3f}"
        )
    print(f"speed-up of the whole run: {run['cpu'].seconds / run['cuda'].seconds:.1f}x")
    import shutil

    shutil.rmtree(workdir)
else:
    print("no GPU here: `npgpt train --device cuda` would stop with the DeviceError shown in section 1")

# %% [markdown]
# ## 7. What limits a GPU: arithmetic intensity and the roofline
#
# **No GPU run of this notebook is recorded yet** (section 8): everything in this section is arithmetic
# on shapes and on published datasheet numbers, so anyone can check it with a pencil.
#
# An op must both compute and move its data between the GPU's memory (HBM) and its arithmetic units. Its
# **arithmetic intensity** is
#
# $$I = \frac{\text{floating-point operations}}{\text{bytes moved to and from memory}} \quad \text{(FLOP/byte)}.$$
#
# A GPU with peak compute $P$ (FLOP/s) and memory bandwidth $\beta$ (bytes/s) cannot run an op faster than
# either limit allows, so its attainable rate is the **roofline** (Williams et al., 2009)
#
# $$\text{attainable FLOP/s} = \min(P,\; I \cdot \beta).$$
#
# The two meet at the **ridge point** $I^\ast = P / \beta$. An op with $I < I^\ast$ is
# **memory-bound** (faster arithmetic would not help it), one with $I > I^\ast$ **compute-bound**.
#
# The counts, for float32 (4 bytes a number) and the forward pass. "Bytes" is the least any kernel must
# move: read each input once, write each output once. For attention and LayerNorm the cell also counts
# what npgpt's forward moves, one pass over an array for every NumPy/CuPy call (a call reads its inputs
# and writes its output), from the code in `npgpt/ops/attention.py` and `npgpt/ops/layernorm.py`:
#
# * **matmul**, the MLP's first layer: $(M \times C)(C \times 4C)$ with $M = B T$ rows: $2 M C \cdot 4C$
#   FLOPs (a multiply and an add per term); bytes $4 (MC + 4C^2 + 4MC)$.
# * **attention**, one layer, all $H$ heads of size $d = C / H$: $QK^\top$ and $PV$ are $2 \cdot 2T^2 d$
#   FLOPs per head, and the softmax about 7 per score (scale, causal mask, max, subtract, exp, sum,
#   divide). At least $q, k, v$ are read and the output written: $4 \cdot 4 T d$ bytes per head. npgpt's
#   forward also writes the $T \times T$ scores and passes over them 14 times (write, scale r+w, mask r+w,
#   max r, subtract r+w, exp r+w, sum r, divide r+w, read by $PV$).
# * **LayerNorm** of $M$ rows of $C$: 7 FLOPs per number (mean, subtract, square, mean, scale by
#   $1/\sigma$, times $\gamma$, plus $\beta$); at least read $x$ and write $y$, 8 bytes per number; npgpt
#   makes 12 passes (mean r, subtract r+w, square r+w, mean r, scale r+w, times $\gamma$ r+w, plus
#   $\beta$ r+w).
#
# **Predict, then run.** Which of the three can be compute-bound on an H100 in float32, whose ridge point
# is $67 \times 10^{12} / 3.35 \times 10^{12} = 20$ FLOP/byte?

# %%
F32 = 4  # bytes per float32


def matmul_cost(M, K, N, nbytes=F32):
    """FLOPs and least bytes of (M, K) @ (K, N): 2MKN; read both operands, write the product."""
    return 2 * M * K * N, nbytes * (M * K + K * N + M * N)


def attention_cost(B, H, T, d, nbytes=F32):
    """FLOPs, least bytes and npgpt's bytes of causal attention over (B, H, T, d) q, k, v."""
    flops = B * H * (4 * T * T * d + 7 * T * T)
    least = nbytes * B * H * 4 * T * d  # q, k, v in, out written
    return flops, least, least + nbytes * B * H * 14 * T * T  # + the 14 passes over the T x T scores


def layernorm_cost(M, C, nbytes=F32):
    """FLOPs, least bytes and npgpt's bytes of LayerNorm over (M, C) (gamma, beta: 2C, negligible)."""
    return 7 * M * C, nbytes * 2 * M * C, nbytes * 12 * M * C


SIZES = {  # name: (n_embd, n_head, T, B); every count below is for one layer
    "small 4L/128/T64/B12": (128, 4, 64, 12),
    "mid 6L/384/T256/B8": (384, 6, 256, 8),
    "GPT-2 small 12L/768/T1024/B8": (768, 12, 1024, 8),
}
intensity = {}
print(f"{'size':<30} {'op':<10} {'GFLOP':>8} {'MB least':>9} {'I least':>8} {'I npgpt':>8}")
for name, (C, H, T, B) in SIZES.items():
    fl, by = matmul_cost(B * T, C, 4 * C)
    rows = {"matmul": (fl, by, by), "attention": attention_cost(B, H, T, C // H), "layernorm": layernorm_cost(B * T, C)}
    for op, (fl, least, ours) in rows.items():
        intensity[name, op] = (fl / least, fl / ours)
        print(f"{name:<30} {op:<10} {fl / 1e9:8.3f} {least / 1e6:9.2f} {fl / least:8.1f} {fl / ours:8.2f}")

# %% [markdown]
# The same numbers by hand, so a slip in the functions above cannot hide (small model: $BT = 768$ rows,
# $C = 128$, $H = 4$ heads of $d = 32$):
#
# * matmul: $2 \cdot 768 \cdot 128 \cdot 512 = 100{,}663{,}296$ FLOPs over
#   $4 (768 \cdot 128 + 128 \cdot 512 + 768 \cdot 512) = 2{,}228{,}224$ bytes: $I = 45.2$;
# * attention, least bytes: per head and sequence $(4 \cdot 32 + 7) \cdot 64^2 = 552{,}960$ FLOPs over
#   $16 \cdot 64 \cdot 32 = 32{,}768$ bytes: $I = 16.9$; with npgpt's 14 passes over the scores,
#   $32{,}768 + 4 \cdot 14 \cdot 64^2 = 262{,}144$ bytes: $I = 2.1$;
# * LayerNorm: $7 / 8 = 0.875$ FLOP/byte at best, $7 / 48 = 0.146$ as npgpt runs it, at every size.

# %%
small = "small 4L/128/T64/B12"
assert matmul_cost(768, 128, 512) == (100_663_296, 2_228_224)
assert np.isclose(intensity[small, "matmul"][0], 100_663_296 / 2_228_224)
assert attention_cost(1, 1, 64, 32) == (552_960, 32_768, 262_144)
assert np.isclose(intensity[small, "attention"][0], 552_960 / 32_768)
assert np.isclose(intensity[small, "attention"][1], 552_960 / 262_144)
assert all(np.isclose(intensity[n, "layernorm"][0], 7 / 8) for n in SIZES)
assert all(np.isclose(intensity[n, "layernorm"][1], 7 / 48) for n in SIZES)
# a matmul's intensity grows with its size (2MC / (5M + 4C), about 2C/5 when M >> C); LayerNorm's never does
assert intensity[small, "matmul"][0] < intensity["GPT-2 small 12L/768/T1024/B8", "matmul"][0]
# the bf16 sentence below the plot: half the bytes doubles each intensity
assert (
    156
    < 2 * intensity["mid 6L/384/T256/B8", "matmul"][0]
    < 295
    < 2 * intensity["GPT-2 small 12L/768/T1024/B8", "matmul"][0]
)

# %% [markdown]
# ### The roofline of two GPUs, from their datasheets
#
# Published peaks (NVIDIA's H100 and A100 datasheets, SXM versions, dense, no sparsity):
#
# | GPU | bf16 tensor cores | TF32 tensor cores | fp32 (no tensor cores) | HBM bandwidth |
# |-----|-------------------|-------------------|------------------------|---------------|
# | H100 SXM | 989 TFLOP/s | 495 TFLOP/s | 67 TFLOP/s | 3.35 TB/s |
# | A100 SXM (80 GB) | 312 TFLOP/s | 156 TFLOP/s | 19.5 TFLOP/s | 2.0 TB/s |
#
# The plot draws both GPUs' fp32 and bf16 roofs and places each op of the table above (least bytes,
# float32) on the H100's fp32 roof.

# %%
GPUS = {  # name: (bf16 tensor-core peak, fp32 peak, bandwidth), FLOP/s and bytes/s
    "H100 SXM": (989e12, 67e12, 3.35e12),
    "A100 SXM": (312e12, 19.5e12, 2.0e12),
}
ridge = {
    (g, prec): peak / bw for g, (bf16, fp32, bw) in GPUS.items() for prec, peak in (("bf16", bf16), ("fp32", fp32))
}
for (g, prec), r in ridge.items():
    print(f"{g} {prec}: ridge point {r:6.1f} FLOP/byte")
assert np.isclose(ridge["H100 SXM", "fp32"], 20.0, atol=0.1) and np.isclose(ridge["A100 SXM", "bf16"], 156)

fig, ax = plt.subplots(figsize=(8, 4.8))
I = np.logspace(-1, 3.5, 200)
for (g, (bf16, fp32, bw)), color in zip(GPUS.items(), ("C0", "C1")):
    for prec, peak, ls in (("bf16", bf16, "-"), ("fp32", fp32, "--")):
        ax.loglog(I, np.minimum(peak, I * bw) / 1e12, ls, color=color, label=f"{g} {prec}")
markers = {"matmul": "o", "attention": "s", "layernorm": "^"}
for (name, op), (least, _) in intensity.items():
    y = min(GPUS["H100 SXM"][1], least * GPUS["H100 SXM"][2]) / 1e12
    ax.plot(least, y, markers[op], color="k", ms=6, alpha=0.4 + 0.2 * list(SIZES).index(name))
for op, m in markers.items():
    ax.plot([], [], m, color="k", label=f"{op} (3 sizes, darker = larger)")
ax.set_xlabel("arithmetic intensity (FLOP/byte)")
ax.set_ylabel("attainable TFLOP/s")
ax.set_title("roofline from datasheet numbers; ops placed on the H100 fp32 roof (no measurement)")
ax.legend(fontsize=7, loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# In float32 on an H100 (ridge 20) the matmuls of all three sizes are compute-bound on paper (45, 134 and
# 286 FLOP/byte), though the small model's kernels are so short that launches, not the roof, set their
# pace (section 6). LayerNorm sits far left, below 1 FLOP/byte at any
# size: it runs at memory speed, which is why fused kernels merge it with its neighbours. npgpt's
# attention moves the $T \times T$ scores 14 times, which puts it at 2 to 5 FLOP/byte: memory-bound. That
# is exactly what FlashAttention (Dao et al., 2022) removes: it never writes the scores to memory, so
# attention's intensity becomes the "least bytes" one, which grows with $T$ (17 at $T = 64$ with $d = 32$,
# 263 at $T = 1024$ with $d = 64$). In bf16 every intensity doubles (half the bytes), but the ridge moves
# to 156 (A100) and 295 (H100): the mid and GPT-2 matmuls (267 and 572 FLOP/byte in bf16) are
# compute-bound on the A100's tensor cores, and only GPT-2's on the H100's.
#
# ### Why generating one token is memory-bound
#
# To generate one token, a GPT multiplies the **one** new position's vector by every weight matrix. Each
# weight is read from memory once and used for one multiply and one add: 2 FLOPs per 4 bytes in float32,
# $I \approx 0.5$ FLOP/byte (1 in bf16), whatever the model's size. Generating for a **batch** of $B$
# sequences at once reads each weight once and uses it $B$ times, so $I \approx B / 2$ in float32 while the
# weights dominate the bytes; the $B$ rows in and out, and the cache of keys and values read once per
# sequence, add bytes that grow with $B$ (and the context), so the gain flattens for large $B$.
# Below the ridge point, the time per token is the time to read the weights:

# %%
g2 = GPTConfig.preset("gpt2")
C2, L2, V2 = g2.n_embd, g2.n_layer, g2.vocab_size
n_weights = L2 * 12 * C2 * C2 + V2 * C2  # the blocks' matrices and the tied head (embeddings are looked up)
print(f"GPT-2 small: {n_weights / 1e6:.1f}M weights used by matrix products per token")
for B in (1, 8, 64, 512):
    fl, by = matmul_cost(B, C2, 4 * C2)  # one MLP layer at decode: B rows times the (C, 4C) weight
    I_dec = fl / by
    bound = "memory" if I_dec < ridge["H100 SXM", "fp32"] else "compute"
    print(f"batch {B:4d}: MLP matmul I = {I_dec:6.2f} FLOP/byte (float32) -> {bound}-bound on an H100 in fp32")
t_mem = F32 * n_weights / GPUS["H100 SXM"][2]
t_fl = 2 * n_weights / GPUS["H100 SXM"][1]
print(f"batch 1 on an H100, fp32: reading the weights {t_mem * 1e3:.3f} ms, their arithmetic {t_fl * 1e3:.4f} ms")
print(f"-> at most {1 / t_mem:,.0f} tokens/s from the bandwidth alone (a bound, not a measurement)")
assert np.isclose(
    matmul_cost(1, 768, 3072)[0] / matmul_cost(1, 768, 3072)[1], 2 * 768 * 3072 / (4 * (768 + 768 * 3072 + 3072))
)
assert 0.49 < matmul_cost(1, 768, 3072)[0] / matmul_cost(1, 768, 3072)[1] <= 0.5
assert 60 < matmul_cost(512, 768, 3072)[0] / matmul_cost(512, 768, 3072)[1] < 256  # about B/2, less the activations

# %% [markdown]
# So a single conversation uses a GPU's arithmetic for a few percent of the time: serving systems batch
# many users' requests together to raise $I$, and quantise weights to fewer bytes to read them faster.
#
# ### What bf16 and TF32 change
#
# | format | sign | exponent bits | mantissa bits | bytes | relative spacing $2^{-m}$ |
# |--------|------|---------------|---------------|-------|---------------------------|
# | fp32 | 1 | 8 | 23 | 4 | $1.2 \times 10^{-7}$ |
# | TF32 | 1 | 8 | 10 | 4 (stored as fp32) | $9.8 \times 10^{-4}$ |
# | bf16 | 1 | 8 | 7 | 2 | $7.8 \times 10^{-3}$ |
# | fp16 | 1 | 5 | 10 | 2 | $9.8 \times 10^{-4}$ |
#
# * **bf16** keeps fp32's 8 exponent bits (the same range as fp32) and 7 of its 23
#   mantissa bits. Half the bytes: every memory-bound op above moves half as much and its intensity
#   doubles; and matmuls run on the tensor cores, 989 against 67 TFLOP/s on an H100. Training keeps an
#   fp32 copy of the weights and accumulates sums in fp32 (mixed precision, Micikevicius et al., 2018).
# * **TF32** is not a storage format: the arrays stay fp32 (4 bytes, so memory-bound ops gain nothing),
#   but the tensor cores round the matmul's inputs to 10 mantissa bits and accumulate in fp32: 495
#   instead of 67 TFLOP/s on an H100, at about $10^{-3}$ relative precision per product.
# * **npgpt runs float32**: 4 bytes a number and, with CuPy's defaults, no TF32 (CuPy uses it for float32
#   matmuls only when the environment variable `CUPY_TF32=1` is set). On an H100 its matmuls can reach at
#   most the 67 TFLOP/s fp32 roof, and its gradients match the CPU's to float32 rounding (section 5).

# %%
for fmt, m in (("fp32", 23), ("TF32", 10), ("bf16", 7), ("fp16", 10)):
    print(f"{fmt:>5}: spacing of numbers near 1 = 2^-{m} = {2.0**-m:.2e}")
assert 2.0**-23 == np.finfo(np.float32).eps and 2.0**-10 == np.finfo(np.float16).eps


# %% [markdown]
# ## 8. Measured on a GPU
#
# On a machine without a GPU, like the CI that runs these notebooks, the cells above cannot measure a
# speed-up. **No GPU run of this notebook has been recorded yet**, so there are no GPU numbers to show
# here; none are made up. To measure them yourself on a hosted GPU notebook (Google Colab, Kaggle:
# choose a GPU runtime), install npgpt and CuPy for CUDA 12, then run this notebook or the benchmark:
#
# ```bash
# pip install cupy-cuda12x           # CuPy for CUDA 12.x (pip install -e '.[cuda12]' in a clone)
# pip install -e .                   # in a clone of the npgpt repository
# npgpt bench --device cuda          # npgpt against PyTorch on the GPU, milliseconds and ratios
# ```
#
# Record the date, the GPU and the CuPy and CUDA versions with the numbers. In a clone,
# `bash tools/gpu_check.sh` does all of it in one run: every CUDA test (none may skip on a GPU), this
# notebook on the GPU, then the benchmark, with the machine's details and a log of each step in
# `gpu-results/`.
#
# Without a GPU you can still run this notebook's GPU cells, for their logic only: `npgpt.testing`
# holds a stand-in for CuPy built on NumPy that refuses what CuPy refuses (a NumPy call on a device
# array, a NumPy array mixed into a device operation, a host read inside
# `cupyx.allow_synchronize(False)`, a function CuPy does not have).
# `cd notebooks && python -m npgpt.testing.fake_gpu 16_the_gpu.py` runs the notebook's code on it; the
# "speed-ups" it prints are NumPy against NumPy, about 1x. The test suite runs every CUDA test this way
# (`tests/test_fake_gpu.py`), so a slip in the GPU path shows up on a machine without one.
#
# ## 9. The checks
#
# What this notebook showed, checked on the device it ran on (the notebook fails if one is wrong):

# %%
checks = {
    "`import npgpt` did not import CuPy": not cupy_at_import,
    "asking for 'cuda' without a GPU raised a DeviceError": HAVE_GPU or isinstance(device_error, DeviceError),
    f"parameters, gradients, AdamW state and the batch all on {DEVICE}": all(
        devices(arrays) == [DEVICE] for arrays in (params, grads, state, [x, y])
    ),
    "model.to kept the Parameter objects the optimizer holds": same_objects,
    "clip_grad_norm_ returned a Python float on the CPU, a 0-d device array on the GPU": (
        isinstance(norm, float) if DEVICE == "cpu" else getattr(norm, "shape", None) == ()
    ),
    "the training steps gave a finite loss and norm": bool(
        np.isfinite(float(loss.item())) and np.isfinite(float(norm))
    ),
}
for what, ok in checks.items():
    print("ok    " if ok else "FAILED", what)
assert all(checks.values()), f"failed: {[what for what, ok in checks.items() if not ok]}"

# %% [markdown]
# To compare npgpt with a PyTorch reference of the same model and weights, on the GPU:
#
# ```bash
# npgpt bench --device cuda                 # train step, forward, generation; tiny, baby and mid models
# npgpt bench --device cuda --configs mid   # only the largest
# ```
#
# (`npgpt bench` without `--device` measures the CPU. The PyTorch side needs a CUDA build of torch.)
#
# ## Check yourself
#
# 1. Which of these, inside a training loop on the GPU, make the CPU wait for the GPU:
#    `model(x, y)`, `loss.backward()`, `clip_grad_norm_(...)`, `loss.item()`, `print(step)`,
#    `if norm > 1:` with the `norm` that `clip_grad_norm_` returned?
#
# <details><summary>Hint</summary>
#
# `loss.item()` and `if norm > 1:` (it needs the value on the host). The others only queue kernels;
# `print(step)` prints a Python int.
#
# </details>
#
# 2. Why does AdamW need no change to run on the GPU?
#
# <details><summary>Hint</summary>
#
# Its state is created with `xp.zeros_like(p.data)`, where `xp` comes from the parameter, and every
# update is an in-place array operation of that module.
#
# </details>
#
# 3. GPT-2 small has 124,439,808 parameters. How much GPU memory do the float32 parameters, gradients
#    and AdamW state take, before any activations?
#
# <details><summary>Hint</summary>
#
# Parameters 0.50 GB, gradients 0.50 GB, $m$ and $v$ 1.0 GB: about 2 GB (4 bytes x 4 copies x 124M).
#
# </details>
#
# 4. A machine has CuPy installed but no NVIDIA driver. What does `npgpt.cuda_available()` return, and
#    what does `GPT(cfg, device="cuda")` do?
#
# <details><summary>Hint</summary>
#
# `False`: `cupy_module()` catches the failing `getDeviceCount()` and raises `DeviceError`, which
# `cuda_available()` turns into `False`. The model constructor raises that `DeviceError`.
#
# </details>
#
# 5. Why is the speed-up of the 4 x 128 model smaller than that of the 6 x 384 one?
#
# <details><summary>Hint</summary>
#
# A small model's step is many tiny kernels; launch overhead, not arithmetic, sets its pace. Bigger
# matrices give each kernel more work, which a GPU does far faster than a CPU.
#
# </details>
#
# 6. Generating one token at a time from GPT-2 small in bf16 on an H100: from what batch size on is the
#    MLP's matrix product compute-bound, by the roofline of section 7?
#
# <details><summary>Hint</summary>
#
# In bf16 each weight is 2 bytes and gives 2 FLOPs per row of the batch, so $I \approx B$ FLOP/byte; the
# bf16 ridge point is $989 / 3.35 \approx 295$. So from about $B = 300$ on (a little more, since the
# rows in and out add bytes). A single conversation is hundreds of times below it.
#
# </details>
#
# Assignment `lessons/a16_gpu` has you write the `ToDevice` op (the copy and its backward) and
# `Module.to` yourself; it is graded on the CuPy stand-in, so it needs no GPU.

# %% [markdown]
# ## Papers and references
#
# - Okuta et al., 2017, *CuPy: A NumPy-Compatible Library for NVIDIA GPU Calculations*.
#   <https://learningsys.org/nips17/assets/papers/paper_16.pdf>
# - Dao et al., 2022, *FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness*:
#   on a GPU, memory traffic rather than arithmetic often limits attention. <https://arxiv.org/abs/2205.14135>
# - Williams, Waterman and Patterson, 2009, *Roofline: an insightful visual performance model*,
#   CACM 52(4): why small operations cannot reach a processor's peak. <https://doi.org/10.1145/1498765.1498785>
# - Micikevicius et al., 2018, *Mixed Precision Training*, ICLR: fp16 arithmetic with an fp32 master copy
#   of the weights and loss scaling. <https://arxiv.org/abs/1710.03740>
# - Kalamkar et al., 2019, *A Study of BFLOAT16 for Deep Learning Training*: bf16 keeps fp32's range.
#   <https://arxiv.org/abs/1905.12322>
# - NVIDIA, *H100 Tensor Core GPU* and *A100 Tensor Core GPU* datasheets: the peaks and bandwidths of
#   section 7 (SXM versions, dense). <https://www.nvidia.com/en-us/data-center/h100/>,
#   <https://www.nvidia.com/en-us/data-center/a100/>
