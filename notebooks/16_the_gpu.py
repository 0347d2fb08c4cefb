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
# 4. where a GPU exists: the same numbers as the CPU, a training run, and the measured speed-up.
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
# ## 2. The array module
#
# Four small functions in `npgpt/backend.py` carry the whole idea:
#
# * `get_array_module(a)`: `numpy` for NumPy arrays, `cupy` for CuPy arrays; every op starts with it;
# * `device_of(a)`: `"cpu"` or `"cuda"`;
# * `to_device(a, device)`: a copy on the other device (or `a` itself if it is already there);
# * `xp_for_device(device)`: the module that makes new arrays on `device`.
#
# Here is LayerNorm's forward (`npgpt/ops/layernorm.py`): `xp` comes from the input, and the rest is
# written once for both devices.

# %%
from npgpt.ops.layernorm import LayerNorm

print(inspect.getsource(LayerNorm.forward))
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
# ## 7. Measured on a GPU
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
# ## 8. The checks
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
