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
# # 17 · Training across machines
#
# Every notebook so far trained a GPT in one process. GPT-3 was trained on thousands of GPUs at
# once. This notebook shows why that is necessary and how it is done:
#
# 1. why one GPU is not enough: the memory of GPT-3's weights, gradients and Adam state, and the
#    FLOPs of its training run;
# 2. **data parallelism**: many copies of the model, different data, gradients averaged; run for real
#    on two MPI processes with npgpt's own code, and checked against one process;
# 3. the **ring all-reduce** that averages the gradients, simulated and pictured, and what it costs;
# 4. **ZeRO**: sharding the optimizer state (stage 1, which npgpt implements), the gradients (2) and
#    the parameters (3) across the data-parallel copies;
# 5. **tensor parallelism**: one layer's matrices split over two processes (Megatron-LM), checked
#    numerically;
# 6. **pipeline parallelism**: the layers split into stages, and the "bubble" it costs;
# 7. how these were combined for GPT-3-sized models, with numbers and their sources.
#
# The processes are real: the notebook starts them with `mpiexec` (from the MPICH wheel that
# `pip install -e '.[mpi]'` brings) as subprocesses, and they talk through MPI over shared memory.

# %%
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import npgpt
from npgpt import Tensor
from npgpt import functional as F
from npgpt.distributed import mpiexec_command, mpiexec_env
from npgpt.nn import GPT, GPTConfig
from npgpt.nn.config import parameter_count
from npgpt.optim import SGD, AdamW

np.set_printoptions(precision=4, suppress=True)
workdir = Path(tempfile.mkdtemp(prefix="npgpt15_"))
print("npgpt", npgpt.__version__, "| work folder", workdir)


def run_on_ranks(n, script, *args):
    """Write ``script`` to a file and run it on ``n`` MPI ranks (one BLAS thread each); returns stdout."""
    path = workdir / "script.py"
    path.write_text(textwrap.dedent(script))
    cmd = mpiexec_command(n, [sys.executable, str(path), *map(str, args)])
    res = subprocess.run(cmd, capture_output=True, text=True, env=mpiexec_env(1), timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"mpiexec failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout


# %% [markdown]
# ## 1. Why one GPU is not enough
#
# **Memory.** Training keeps, for every parameter: the weight, its gradient, and AdamW's two moments.
# Models of GPT-3's size (Brown et al., 2020) are trained in *mixed precision* (Micikevicius et al., 2018,
# *Mixed Precision Training*): fp16 weights and gradients (2 + 2 bytes) and, for the optimizer, an fp32
# copy of the weights plus Adam's fp32 moments (4 + 4 + 4 bytes): **16 bytes per parameter**, the count
# of the ZeRO paper (Rajbhandari et al., 2019, section 3.1). npgpt in float32 needs the same 16
# (4 weight + 4 gradient + 8 moments). The activations saved for the backward come on top.

# %%
n_params = parameter_count(GPTConfig.preset("gpt3"))
bytes_per_param = {"fp16 weights": 2, "fp16 gradients": 2, "fp32 master weights": 4, "fp32 Adam m": 4, "fp32 Adam v": 4}
total_bytes = n_params * sum(bytes_per_param.values())
print(f"GPT-3 parameters (counted from its config): {n_params:,}")
for what, b in bytes_per_param.items():
    print(f"  {what:<20} {b} bytes x {n_params / 1e9:.0f}B = {b * n_params / 1e12:5.2f} TB")
print(f"  total {total_bytes / 1e12:.2f} TB = {total_bytes / 80e9:.0f} GPUs of 80 GB just to hold it")

# %% [markdown]
# **Compute.** A training step costs about 6 FLOPs per parameter per token: 2 in the forward (a
# multiply and an add per weight) and 4 in the backward (the gradient with respect to the input and
# with respect to the weight, each as large as the forward). GPT-3: N = 175B parameters, D = 300B
# tokens (Brown et al., 2020, Table D.1 gives 3.14e23 FLOPs).

# %%
N, D = 175e9, 300e9
flops = 6 * N * D
a100 = 312e12  # A100 peak dense fp16/bf16 FLOP/s
print(f"6 N D = {flops:.2e} FLOPs")
for util in (1.0, 0.4):
    years = flops / (a100 * util) / (3600 * 24 * 365)
    print(f"one A100 at {util:.0%} of its peak: {years:5.0f} years")

# %% [markdown]
# Decades on one GPU (about 32 years at the A100's peak, 80 at a more realistic 40% of it), and 35 GPUs'
# worth of memory. So the work must be split: over the
# **data** (each GPU a batch of its own), over the **layers** (pipeline), over **each matrix**
# (tensor parallelism), and over the **optimizer state** (ZeRO). We take them in turn.
#
# ## 2. Data parallelism
#
# N processes ("ranks") each hold the whole model. Each takes its own B examples, runs forward and
# backward, and then the ranks **average their gradients**. Why this is exactly right: the loss on
# the N x B examples is the mean of the ranks' mean losses, and the gradient of a mean is the mean of
# the gradients:
#
# $$\nabla_w \frac{1}{N}\sum_{r=1}^{N} L_r(w) = \frac{1}{N}\sum_{r=1}^{N} \nabla_w L_r(w).$$
#
# After the average every rank holds the same gradient and takes the same AdamW step, so the copies
# stay identical without ever sending weights. npgpt does it in `npgpt/distributed/`: all gradients
# are packed into one flat buffer and averaged by **one all-reduce** per step
# (`data_parallel.py`). Here is a loop that uses it; the only line that makes it data parallel is
# `dp.average_gradients()`. Each rank draws the batch of all ranks and keeps its own rows, so two
# ranks with B = 4 see exactly the examples one process with B = 8 sees.

# %%
DP_SCRIPT = """
import sys
import numpy as np
from npgpt.distributed import init_communicator, optimizer_state_bytes
from npgpt.distributed.training import DataParallel
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW

comm = init_communicator(required=True)
cfg = GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=32)
B = 4
for zero in (False, True):
    model = GPT(cfg, rng=np.random.default_rng(0), dtype=np.float64)
    dp = DataParallel(comm, AdamW(model.parameters(), lr=1e-3), zero=zero)
    data = np.random.default_rng(1)
    for step in range(5):
        ids = data.integers(0, 16, (comm.world_size * B, 9))  # the batch of all ranks ...
        x, y = dp.local_batch(ids[:, :-1], ids[:, 1:])  # ... of which this rank keeps its B rows
        _, loss = model(x, y)
        dp.optimizer.zero_grad()
        loss.backward()
        dp.average_gradients()  # the one line that makes this loop data parallel
        dp.optimizer.step()
    name = "zero1" if zero else "dp"
    np.savez(f"{sys.argv[1]}/{name}.rank{comm.rank}.npz", state_bytes=optimizer_state_bytes(dp.optimizer),
             **model.state_dict())
if comm.rank == 0:
    print(f"{comm.world_size} ranks trained plain data parallel and ZeRO-1; weights saved")
"""
print(run_on_ranks(2, DP_SCRIPT, workdir))

# %% [markdown]
# The same five steps in this one process, with B = 8 (both ranks' rows together):

# %%
cfg = GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=32)
model = GPT(cfg, rng=np.random.default_rng(0), dtype=np.float64)
opt = AdamW(model.parameters(), lr=1e-3)
data = np.random.default_rng(1)
for _ in range(5):
    ids = data.integers(0, 16, (2 * 4, 9))
    _, loss = model(ids[:, :-1], ids[:, 1:])
    opt.zero_grad()
    loss.backward()
    opt.step()
one = model.state_dict()
ranks = {name: [np.load(workdir / f"{name}.rank{r}.npz") for r in range(2)] for name in ("dp", "zero1")}


def rel_diff(a, b):
    # ||a - b|| / ||b|| over all the weights
    return np.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in b) / sum((b[k] ** 2).sum() for k in b))


# What rounding allows: a sum of n rounded terms is off by at most n u relative (u = eps / 2). The
# longest sums here: a weight gradient over 8 x 8 tokens, and each layer's 4 x 32-term MLP product.
# AdamW's step m / sqrt(v) turns a relative error e of the gradient into at most 2e of the step; 5
# steps; two runs, each that far from the exact one. Measured over all weights together: the few
# elements whose gradient nearly cancels carry a larger relative error, and AdamW's step hides how
# small they are, so the largest element-wise difference depends on the BLAS, not on the method.
u64 = np.finfo(np.float64).eps / 2
rounding_bound = 2 * 5 * 2 * (8 * 8 + 2 * 4 * 32) * u64
dp_error = rel_diff(ranks["dp"][0], one)
print(f"2 ranks x B=4 against 1 process x B=8, after 5 AdamW steps: relative difference {dp_error:.1e}")
print(f"the bound float64 rounding guarantees: {rounding_bound:.1e}")
print("the two ranks hold identical weights:", all(np.array_equal(ranks["dp"][0][k], ranks["dp"][1][k]) for k in one))

# %% [markdown]
# The difference between two ranks and one process is float64 rounding, within the bound: the two ways
# add the same numbers in another order. In the command line the same thing is
# `mpiexec -n 2 npgpt train --batch-size 4 ...`.
#
# ### Your turn: the average an all-reduce computes
#
# The cell below computes, in this process, the gradients two ranks would compute on their halves of
# one batch: `rank_grads[r]` is rank r's list of gradient arrays, one per parameter, in the order of
# `model.parameters()`. Write `my_average_gradients(rank_grads)`: the list every rank holds after the
# all-reduce, each parameter's gradient averaged over the ranks. The next cell compares it with the
# gradient of the whole batch in one process.
#
# *Hint:* group the arrays by parameter first (the same parameter on every rank), then average each
# group. Why must it be the average and not the sum? Look at the formula at the start of this section.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_average_gradients(rank_grads):
#     n_ranks = len(rank_grads)
#     return [sum(same_param) / n_ranks for same_param in zip(*rank_grads)]  # zip(*...) groups by parameter
# ```
#
# </details>

# %%
fresh = GPT(cfg, rng=np.random.default_rng(0), dtype=np.float64)
param_names = [name for name, _ in fresh.named_parameters()]


def gradients(ids):
    # one backward of the fresh model on these rows; returns a copy of every parameter's gradient
    fresh.zero_grad()
    _, loss = fresh(ids[:, :-1], ids[:, 1:])
    loss.backward()
    return [p.grad.copy() for p in fresh.parameters()]


batch = np.random.default_rng(2).integers(0, 16, (8, 9))
rank_grads = [gradients(batch[:4]), gradients(batch[4:])]  # rank 0 and rank 1, B = 4 each
whole = gradients(batch)  # one process, B = 8


# %%
def my_average_gradients(rank_grads):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    n_ranks = len(rank_grads)
    return [sum(same_param) / n_ranks for same_param in zip(*rank_grads)]


# %%
from npgpt.exercises import check, check_array

averaged = my_average_gradients(rank_grads)
check(
    len(averaged) == len(whole),
    f"my_average_gradients: {len(averaged)} arrays, expected {len(whole)}, one per parameter",
)
for name, got, want in zip(param_names, averaged, whole):
    if np.shape(got) != want.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-12):
        check_array(
            f"averaged gradient of {name}",
            got,
            want,
            hint="the mean over ranks of the SAME parameter's gradient; a sum is N times too large.",
        )
print(f"correct: the average of 2 ranks' gradients is the whole batch's gradient, for all {len(whole)} parameters")

# %% [markdown]
# **Predict, then run.** Suppose the ranks *summed* their gradients instead of averaging them: with 2
# ranks, every gradient twice too large. How much larger is the first step of SGD then? And of AdamW?


# %%
def first_step(make_optimizer, grads):
    # the length of the first update of a fresh model given these gradients
    m = GPT(cfg, rng=np.random.default_rng(0), dtype=np.float64)
    before = [p.data.copy() for p in m.parameters()]
    for p, g in zip(m.parameters(), grads):
        p.grad = g.copy()
    make_optimizer(m.parameters()).step()
    return np.sqrt(sum(((p.data - b) ** 2).sum() for p, b in zip(m.parameters(), before)))


summed = [2 * g for g in averaged]
step_ratio = {}
for name, make in [("SGD", lambda ps: SGD(ps, lr=0.1)), ("AdamW", lambda ps: AdamW(ps, lr=1e-3, weight_decay=0.0))]:
    step_ratio[name] = first_step(make, summed) / first_step(make, averaged)
    print(f"{name:>5}: the step with summed gradients is {step_ratio[name]:.4f} x the step with averaged ones")

# %% [markdown]
# SGD's step is the learning rate times the gradient: summing over N ranks silently multiplies the
# learning rate by N. Adam divides the gradient by its own running RMS, so a constant factor cancels
# (up to its $\epsilon$); there the same slip would hide, until something that does see the scale, a
# gradient-clipping threshold, or the logged gradient norm, behaves differently with the number of
# machines. The average is right for both: it is the gradient of the whole batch.
#
# **The batch and the learning rate.** N ranks with B examples each take one step on a batch of
# N B. Its averaged gradient is no larger than one rank's, but less noisy (its variance is N times
# smaller), and an epoch now takes N times fewer steps. To make up for the fewer steps, Goyal et al.
# (2017) multiply SGD's learning rate by N when the batch grows N-fold (the *linear scaling rule*,
# with a warmup at the start); for Adam, a *square-root* rule (learning rate times $\sqrt{N}$) is
# the analogue (Malladi et al., 2022). Both are rules of thumb that hold up to some batch size, not
# laws: past it, a bigger batch no longer buys fewer steps.
#
# - Goyal et al., 2017, *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*.
#   <https://arxiv.org/abs/1706.02677>
# - Malladi et al., 2022, *On the SDEs and Scaling Rules for Adaptive Gradient Algorithms*.
#   <https://arxiv.org/abs/2205.10287>

# %% [markdown]
# ## 3. The ring all-reduce
#
# How do N ranks add up their gradient arrays, each of n numbers, so that all of them get the sum?
# Sending everything to one rank and back makes that rank receive (N - 1) n numbers: it becomes the
# bottleneck. The **ring all-reduce** arranges the ranks in a ring and cuts each array into N chunks:
#
# - **reduce-scatter** (N - 1 steps): at each step every rank passes one chunk to its right
#   neighbour, which adds it to its own copy of that chunk. After N - 1 steps rank r holds the full
#   sum of one chunk.
# - **all-gather** (N - 1 steps): the finished chunks travel around the ring once more, copied
#   instead of added.
#
# Each rank sends 2 (N - 1) chunks of n / N numbers: **2 (N - 1) / N x n**, less than 2n whatever
# N is. The bytes per rank barely grow with the number of ranks. But every one of the 2 (N - 1) steps
# is a message, and a message costs a start-up latency $\alpha$ however small it is. With link
# bandwidth $\beta$ (bytes per second) the usual **alpha-beta model** of the ring's time is
#
# $$t_\text{ring} \approx 2 (N - 1)\,\alpha + \frac{2 (N - 1)}{N} \cdot \frac{\text{bytes}}{\beta}.$$
#
# The bandwidth term stays below $2\,\text{bytes}/\beta$; the latency term grows linearly in N. For
# large gradient buffers on a few hundred GPUs the bandwidth term dominates, which is what lets data
# parallelism scale; for small messages or very many ranks the latency term does, which is why npgpt
# packs all gradients into one buffer (one all-reduce per step, not one per parameter) and why large
# clusters use hierarchical rings or trees (NCCL's trees have a latency term logarithmic in N). Here is
# the algorithm in NumPy, step by step:


# %%
def ring_all_reduce(arrays):
    """Simulate a ring all-reduce over len(arrays) ranks; returns (result per rank, numbers sent per rank)."""
    n_ranks = len(arrays)
    chunks = [np.array_split(a.astype(np.float64), n_ranks) for a in arrays]  # chunks[rank][c]
    sent = [0] * n_ranks
    for step in range(n_ranks - 1):  # reduce-scatter: rank r sends chunk (r - step) to rank r + 1
        msgs = [(r, (r - step) % n_ranks, chunks[r][(r - step) % n_ranks].copy()) for r in range(n_ranks)]
        for r, c, data in msgs:
            chunks[(r + 1) % n_ranks][c] += data
            sent[r] += data.size
    for step in range(n_ranks - 1):  # all-gather: rank r sends its finished chunk (r + 1 - step) on
        msgs = [(r, (r + 1 - step) % n_ranks, chunks[r][(r + 1 - step) % n_ranks].copy()) for r in range(n_ranks)]
        for r, c, data in msgs:
            chunks[(r + 1) % n_ranks][c] = data
            sent[r] += data.size
    return [np.concatenate(c) for c in chunks], sent


rng = np.random.default_rng(0)
n = 1200
for n_ranks in (2, 4, 8):
    grads = [rng.standard_normal(n) for _ in range(n_ranks)]
    results, sent = ring_all_reduce(grads)
    assert all(np.allclose(res, sum(grads), rtol=1e-12) for res in results)
    print(
        f"{n_ranks} ranks: every rank holds the sum; each sent {sent[0]} numbers = {sent[0] / n:.3f} n "
        f"(2(N-1)/N = {2 * (n_ranks - 1) / n_ranks:.3f})"
    )

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
n_ranks = 4
angles = np.pi / 2 - 2 * np.pi * np.arange(n_ranks) / n_ranks
pos = np.stack([np.cos(angles), np.sin(angles)], 1)
for r in range(n_ranks):
    ax1.add_patch(plt.Circle(pos[r], 0.22, color="tab:blue", alpha=0.8))
    ax1.text(*pos[r], f"rank {r}", ha="center", va="center", color="white", fontsize=9)
    a, b = pos[r], pos[(r + 1) % n_ranks]
    d = (b - a) / np.linalg.norm(b - a)
    ax1.annotate("", b - 0.25 * d, a + 0.25 * d, arrowprops=dict(arrowstyle="->", lw=2))
ax1.set_xlim(-1.5, 1.5), ax1.set_ylim(-1.5, 1.5), ax1.set_aspect("equal"), ax1.axis("off")
ax1.set_title("each step: every rank sends one chunk to its right")
Ns = np.arange(2, 65)
ax2.plot(Ns, 2 * (Ns - 1) / Ns, label="ring: numbers sent per rank / n")
ax2.plot(Ns, Ns - 1, label="one root: numbers the root receives / n")
ax2.set_yscale("log"), ax2.set_xlabel("ranks N"), ax2.legend(), ax2.set_title("communication per rank")
plt.tight_layout()
plt.show()

# %% [markdown]
# The alpha-beta model with illustrative link numbers (assumed, not measured: $\alpha$ = 10 µs per
# message, $\beta$ = 25 GB/s, a 200 Gb/s link), for GPT-2 small's float32 gradients (498 MB) and for a
# single 4 KB gradient sent on its own:


# %%
def ring_time(n_bytes, n_ranks, alpha=10e-6, beta=25e9):
    """Alpha-beta model of a ring all-reduce: (latency term, bandwidth term) in seconds."""
    return 2 * (n_ranks - 1) * alpha, 2 * (n_ranks - 1) / n_ranks * n_bytes / beta


for n_bytes, what in [(124_439_808 * 4, "GPT-2 small's gradients"), (4096, "one 4 KB gradient")]:
    for n_ranks in (8, 64, 1024):
        lat, bw = ring_time(n_bytes, n_ranks)
        print(f"{what:>24}, {n_ranks:4d} ranks: latency {lat * 1e3:8.3f} ms + bandwidth {bw * 1e3:8.3f} ms")
        assert bw < 2 * n_bytes / 25e9 and np.isclose(lat, 2 * (n_ranks - 1) * 10e-6)

# %% [markdown]
# An all-reduce *is* a reduce-scatter followed by an all-gather. Remember that for ZeRO.
#
# ## 4. ZeRO: do not keep N copies of the optimizer state
#
# Data parallelism keeps the whole model, gradients and Adam state on every rank: N copies of the
# same 16 bytes per parameter. ZeRO (Rajbhandari et al., 2019) **shards** them over the N ranks:
#
# - **stage 1**: the optimizer state. Rank r keeps AdamW's moments (and fp32 weights) for 1/N of the
#   parameters only. Per step: *reduce-scatter* the gradients (rank r gets the average of its
#   shard), update its shard, *all-gather* the updated weights. Same bytes sent as one all-reduce.
# - **stage 2**: also the gradients (each rank keeps only its shard's averaged gradient).
# - **stage 3**: also the weights: each layer's are all-gathered just before use, and dropped after.
#
# Per rank, with Ψ parameters, K = 12 bytes of optimizer state per parameter and N ranks:
#
# | | bytes per rank |
# |---|---|
# | data parallel | (2 + 2 + K) Ψ |
# | ZeRO-1 | (2 + 2) Ψ + K Ψ / N |
# | ZeRO-2 | 2 Ψ + (2 + K) Ψ / N |
# | ZeRO-3 | (2 + 2 + K) Ψ / N |
#
# The ZeRO paper's Figure 1 uses Ψ = 7.5B and N = 64:


# %%
def zero_bytes(psi, n_ranks, K=12):
    return {
        "data parallel": (2 + 2 + K) * psi,
        "ZeRO-1": 4 * psi + K * psi / n_ranks,
        "ZeRO-2": 2 * psi + (2 + K) * psi / n_ranks,
        "ZeRO-3": (2 + 2 + K) * psi / n_ranks,
    }


paper = {"data parallel": 120, "ZeRO-1": 31.4, "ZeRO-2": 16.6, "ZeRO-3": 1.9}  # GB, ZeRO paper Figure 1
for stage, b in zero_bytes(7.5e9, 64).items():
    print(f"{stage:<14} {b / 1e9:6.1f} GB per GPU   (paper: {paper[stage]} GB)")
    assert abs(b / 1e9 - paper[stage]) < 0.05
print(f"GPT-3 with ZeRO-3 on 1024 GPUs: {zero_bytes(175e9, 1024)['ZeRO-3'] / 1e9:.1f} GB per GPU (plus activations)")

# %% [markdown]
# npgpt implements stage 1 (`npgpt/distributed/zero.py`, the `--zero` flag of `npgpt train`): its
# AdamW update runs on the pieces of the parameters in the rank's shard. The two-rank run above
# also trained with ZeRO-1. It gives the same weights as plain data parallelism, and each rank held
# half of the optimizer state (printed below). Assignment `lessons/a17_data_parallel` has you write
# the flat buffer, the gradient averaging and this ZeRO-1 step yourself.

# %%
zero_error = rel_diff(ranks["zero1"][0], {k: ranks["dp"][0][k] for k in one})  # the weights only
full_state = int(ranks["dp"][0]["state_bytes"])
shards = [int(r["state_bytes"]) for r in ranks["zero1"]]
print(f"ZeRO-1 against plain data parallel: relative difference {zero_error:.1e}")
print(f"AdamW state per rank: data parallel {full_state:,} bytes, ZeRO-1 {shards} bytes")

# %% [markdown]
# ## 5. Tensor parallelism: one layer over several GPUs
#
# When one layer's matrices are too big (or too slow) for one GPU, split the matrices themselves
# (Shoeybi et al., "Megatron-LM", 2019). The MLP of a block is Z = GELU(X A) B. Megatron splits:
#
# - A **by columns** (output features): rank r computes Y_r = GELU(X A_r). GELU works element by
#   element, so no communication is needed: this is the **column-parallel** Linear.
# - B **by rows** (input features): rank r computes Y_r B_r, a *partial sum* of Z. One all-reduce
#   adds them: Z = Y_1 B_1 + Y_2 B_2. This is the **row-parallel** Linear.
#
# One all-reduce in the forward, and one in the backward (for the gradient of X, which every rank's
# column shard contributes to). Attention is split the same way, by heads. Below, two MPI ranks
# each hold half of the MLP's weights, written with npgpt's own `functional` ops and `Tensor`s;
# the notebook then computes the whole layer in one process and compares, gradients included.
# (npgpt's `F.linear(x, W, b)` is x W^T + b with W of shape (out, in), as in PyTorch, so A's columns
# are W1's rows.)

# %%
TP_SCRIPT = """
import sys
import numpy as np
from npgpt import Tensor, functional as F
from npgpt.distributed import init_communicator

comm = init_communicator(required=True)
r, n_ranks = comm.rank, comm.world_size
rng = np.random.default_rng(0)  # every rank draws the same full weights, then keeps its part
B, C, H = 5, 8, 32
x, W1, b1 = rng.standard_normal((B, C)), 0.3 * rng.standard_normal((H, C)), 0.1 * rng.standard_normal(H)
W2, b2, g = 0.3 * rng.standard_normal((C, H)), 0.1 * rng.standard_normal(C), rng.standard_normal((B, C))
mine = slice(r * H // n_ranks, (r + 1) * H // n_ranks)

X = Tensor(x, requires_grad=True)
W1_r, b1_r = Tensor(W1[mine], requires_grad=True), Tensor(b1[mine], requires_grad=True)  # column-parallel
W2_r = Tensor(W2[:, mine], requires_grad=True)  # row-parallel
Y_r = F.gelu(F.linear(X, W1_r, b1_r))  # (B, H / n_ranks): no communication
Z_r = F.linear(Y_r, W2_r)  # (B, C): this rank's partial sum
Z = comm.all_reduce_(Z_r.data.copy()) + b2  # forward: one all-reduce (the bias once, after it)
Z_r.backward(g)  # dL/dZ = g reaches every partial sum unchanged
dX = comm.all_reduce_(X.grad.copy())  # backward: one all-reduce for the input's gradient
np.savez(f"{sys.argv[1]}/tp.rank{r}.npz", Z=Z, dX=dX, dW1=W1_r.grad, db1=b1_r.grad, dW2=W2_r.grad)
if r == 0:
    print(f"{n_ranks} ranks, each with {H // n_ranks} of the {H} hidden units; Z and dX all-reduced")
"""
print(run_on_ranks(2, TP_SCRIPT, workdir))

rng = np.random.default_rng(0)
B, C, H = 5, 8, 32
x, W1, b1 = rng.standard_normal((B, C)), 0.3 * rng.standard_normal((H, C)), 0.1 * rng.standard_normal(H)
W2, b2, g = 0.3 * rng.standard_normal((C, H)), 0.1 * rng.standard_normal(C), rng.standard_normal((B, C))
X, W1t, b1t, W2t = (Tensor(a, requires_grad=True) for a in (x, W1, b1, W2))
Z_full = F.linear(F.gelu(F.linear(X, W1t, b1t)), W2t, Tensor(b2))
Z_full.backward(g)
tp = [np.load(workdir / f"tp.rank{r}.npz") for r in range(2)]
tp_errors = {
    "Z": max(np.abs(t["Z"] - Z_full.data).max() for t in tp),
    "dX": max(np.abs(t["dX"] - X.grad).max() for t in tp),
    "dW1": np.abs(np.concatenate([t["dW1"] for t in tp]) - W1t.grad).max(),
    "db1": np.abs(np.concatenate([t["db1"] for t in tp]) - b1t.grad).max(),
    "dW2": np.abs(np.concatenate([t["dW2"] for t in tp], axis=1) - W2t.grad).max(),
}
for k, v in tp_errors.items():
    print(f"{k:>4}: two ranks against the whole layer, largest difference {v:.1e}")

# %% [markdown]
# Tensor parallelism communicates inside every layer, twice per layer and direction, with
# activations of size B x T x C. That needs the fastest links there are: in practice it stays inside
# one server (8 GPUs joined by NVLink).
#
# ## 6. Pipeline parallelism and its bubble
#
# Split the *layers* into p stages, one per GPU: stage 1 runs layers 1-12, stage 2 layers 13-24, ...
# Only the activations at the stage boundaries travel. But stage 2 cannot start before stage 1 has
# finished, so the batch is cut into m **micro-batches** that flow through the stages one after the
# other (GPipe, Huang et al., 2019). At the start and at the end some stages have nothing to do: the
# **bubble**. With p stages and m micro-batches, each pass (forward or backward) takes m + p - 1
# time slots of which each stage is busy m, so the idle fraction is
#
# $$\text{bubble} = \frac{p - 1}{m + p - 1}.$$


# %%
def gpipe_schedule(p, m):
    """grid[stage, slot] = micro-batch number (forward, then backward in reverse stage order) or -1 (idle)."""
    slots = 2 * (m + p - 1)
    grid = -np.ones((p, slots), dtype=int)
    for s in range(p):
        for j in range(m):
            grid[s, s + j] = j  # forward of micro-batch j on stage s
            grid[s, (m + p - 1) + (p - 1 - s) + j] = j  # backward: the last stage first
    return grid


p, m = 4, 6
grid = gpipe_schedule(p, m)
bubble = (grid == -1).mean()
print(
    f"p={p} stages, m={m} micro-batches: idle fraction {bubble:.3f}, formula (p-1)/(m+p-1) = {(p - 1) / (m + p - 1):.3f}"
)
fig, ax = plt.subplots(figsize=(10, 2.6))
for s in range(p):
    for t in range(grid.shape[1]):
        j = grid[s, t]
        if j >= 0:
            fwd = t < m + p - 1
            ax.add_patch(plt.Rectangle((t, p - 1 - s), 1, 1, color="tab:blue" if fwd else "tab:orange", ec="white"))
            ax.text(t + 0.5, p - 0.5 - s, str(j), ha="center", va="center", color="white", fontsize=8)
ax.set_xlim(0, grid.shape[1]), ax.set_ylim(0, p)
ax.set_yticks(np.arange(p) + 0.5, [f"stage {s}" for s in reversed(range(p))])
ax.set_xlabel("time slot (blue: forward, orange: backward, white: the bubble)")
plt.tight_layout()
plt.show()
for m_ in (4, 16, 64):
    print(f"m = {m_:3d} micro-batches on p = 16 stages: bubble {(16 - 1) / (m_ + 16 - 1):.0%}")

# %% [markdown]
# More micro-batches shrink the bubble. Later schedules (1F1B, interleaved stages; Narayanan et
# al., 2021) also cut the memory of the activations kept waiting for their backward.
#
# ## 7. How GPT-3-sized models were trained
#
# The methods combine ("3D parallelism"): **tensor** parallelism inside a server, where NVLink is
# fast; **pipeline** parallelism across servers, where only stage boundaries are sent; and **data**
# parallelism (often with ZeRO) over copies of that whole arrangement.
#
# - GPT-3 (Brown et al., 2020, section 2.3): 175B parameters, 300B tokens, trained on V100 GPUs
#   of a cluster provided by Microsoft, with "a mixture of model parallelism within each matrix
#   multiply and model parallelism across the layers of the network"; 3.14e23 FLOPs.
# - Megatron-LM (Shoeybi et al., 2019): tensor parallelism; an 8.3B model on 512 V100 GPUs (8-way
#   tensor x 64-way data parallel), 15.1 PetaFLOP/s sustained, 76% scaling efficiency.
# - Narayanan et al., 2021 ("Efficient Large-Scale Language Model Training on GPU Clusters Using
#   Megatron-LM"): the GPT-3 shape (175B) on 1536 A100 GPUs as 8-way tensor x 16-way pipeline x
#   12-way data parallel; they estimate a full GPT-3 training run on 1024 A100s at 140 teraFLOP/s
#   per GPU at about 34 days. Their estimate uses 8 N D FLOPs, not 6 N D, because they recompute
#   the forward of each layer during the backward to save activation memory:

# %%
days = 8 * N * D / (1024 * 140e12) / (3600 * 24)
print(f"8 N D / (1024 GPUs x 140 TFLOP/s) = {days:.0f} days")
tensor, pipeline, gpus = 8, 16, 1536
print(
    f"{tensor} x {pipeline} x {gpus // (tensor * pipeline)} = {gpus} GPUs; each holds 1/{tensor * pipeline} of the weights: "
    f"{n_params / (tensor * pipeline) / 1e9:.2f}B parameters, {16 * n_params / (tensor * pipeline) / 1e9:.0f} GB of weights, "
    "gradients and Adam state"
)

# %% [markdown]
# ## Check yourself
#
# 1. With 8 data-parallel ranks, how many numbers does each rank send in a ring all-reduce of a
#    gradient of n numbers? And with 1024 ranks?
#
# <details><summary>Hint</summary>
#
# 2 (N - 1) / N x n: 1.75 n for 8 ranks, 1.998 n for 1024. Almost the same: that is why the ring
# scales.
#
# </details>
#
# 2. Why does the data-parallel run above match the one-process run only to rounding, not bit for
#    bit? When would it match exactly?
#
# <details><summary>Hint</summary>
#
# The gradient is summed in another order (per rank, then across ranks). Floating-point addition is
# not associative. With one rank, or with sums that happen to be exact, the results are identical.
#
# </details>
#
# 3. ZeRO-1 with N = 4: how many bytes per parameter does a rank hold, in mixed precision (K = 12)?
#
# <details><summary>Hint</summary>
#
# 2 + 2 + 12 / 4 = 7 bytes instead of 16.
#
# </details>
#
# 4. In the tensor-parallel MLP, why is GELU applied *before* any communication, and why must the
#    bias b2 be added once, after the all-reduce?
#
# <details><summary>Hint</summary>
#
# GELU acts on each element, and the column split gives each rank whole elements of Y. Z_r are
# partial sums: adding b2 on every rank would add it N times.
#
# </details>
#
# 5. A pipeline has 8 stages. How many micro-batches keep the bubble under 10%?
#
# <details><summary>Hint</summary>
#
# (p - 1) / (m + p - 1) < 0.1 means m > 9 (p - 1) = 63: at least 64.
#
# </details>

# %%
assert dp_error <= rounding_bound, dp_error  # data parallel = one process with the whole batch, to rounding
assert zero_error <= rounding_bound, zero_error  # ZeRO-1 = data parallel
assert sum(shards) == full_state and max(shards) <= full_state // 2 + 64  # ZeRO-1 halves the state per rank
assert max(tp_errors.values()) < 1e-12, tp_errors  # two tensor-parallel halves = the whole layer
assert abs(bubble - (p - 1) / (m + p - 1)) < 1e-12
assert 3.0e23 < flops < 3.2e23 and 30 < days < 40
assert abs(step_ratio["SGD"] - 2) < 1e-9 and abs(step_ratio["AdamW"] - 1) < 1e-3  # summing = 2x the SGD step
print("all checks passed")

# %%
shutil.rmtree(workdir)  # the scripts and results of this notebook

# %% [markdown]
# ## Papers
#
# - Patarasuk and Yuan, 2009, *Bandwidth Optimal All-reduce Algorithms for Clusters of
#   Workstations*, Journal of Parallel and Distributed Computing 69(2): the ring all-reduce and why
#   its 2 (N - 1) / N n is the least any all-reduce can send.
# - Micikevicius et al., 2018, *Mixed Precision Training*, ICLR: fp16 weights and gradients with an fp32
#   master copy, the 16 bytes per parameter of section 1. <https://arxiv.org/abs/1710.03740>
# - Thakur, Rabenseifner and Gropp, 2005, *Optimization of Collective Communication Operations in MPICH*,
#   IJHPCA 19(1): the alpha-beta cost model of collectives, the ring's latency and bandwidth terms.
# - Sergeev and Del Balso, 2018, *Horovod: fast and easy distributed deep learning in TensorFlow*:
#   the ring all-reduce brought to data-parallel deep learning. <https://arxiv.org/abs/1802.05799>
# - Rajbhandari et al., 2019, *ZeRO: Memory Optimizations Toward Training Trillion Parameter
#   Models*: the three stages of section 4. <https://arxiv.org/abs/1910.02054>
# - Shoeybi et al., 2019, *Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
#   Parallelism*: the column- and row-parallel Linear of section 5. <https://arxiv.org/abs/1909.08053>
# - Huang et al., 2019, *GPipe: Efficient Training of Giant Neural Networks using Pipeline
#   Parallelism*: micro-batches and the bubble of section 6. <https://arxiv.org/abs/1811.06965>
# - Narayanan et al., 2021, *Efficient Large-Scale Language Model Training on GPU Clusters Using
#   Megatron-LM*: tensor, pipeline and data parallelism combined, section 7.
#   <https://arxiv.org/abs/2104.04473>
# - Brown et al., 2020, *Language Models are Few-Shot Learners* (GPT-3), section 2.3.
#   <https://arxiv.org/abs/2005.14165>
