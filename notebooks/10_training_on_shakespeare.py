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
# # 10 · Training on Shakespeare
#
# Notebooks 04-09 built every piece of a GPT. Now we train one. A GPT is trained as a **causal
# language model**: given the characters $x_0, \dots, x_t$ it predicts the next one, $x_{t+1}$. That is
# the *only* objective, and every parameter is updated from that one loss, end to end (notebook 09,
# section 6, says what that rules out).
#
# In this notebook:
#
# 1. characters become ids, and a batch is a set of random windows with the targets shifted by one;
# 2. a freshly initialised model scores $\log V$, the loss of the uniform model (notebook 05);
# 3. AdamW's weight decay on a GPT: why biases and LayerNorm parameters get none;
# 4. the warmup + cosine schedule of notebook 05, at this run's sizes;
# 5. notebook 05's global-norm gradient clipping, on several tensors at once;
# 6. the training loop of notebook 05 on a GPT, its loss curves, and samples before and after;
# 7. the library's own `npgpt.train.train`, which runs the same loop;
# 8. **overfitting**: a small model trained too long on too little text.
# 9. **diagnostics** inside a run: activations, gradients and update-to-weight ratios per layer,
#    healthy and with a learning rate 10 times too high;
# 10. **pre-LN, post-LN and no LayerNorm**, trained side by side.
#
# Everything uses npgpt's real code (`npgpt/data`, `npgpt/optim`, `npgpt/train.py`).

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import npgpt
from npgpt.data import TextDataset, load_text, shakespeare_path
from npgpt.memory import tune_malloc
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, CosineWarmup, clip_grad_norm_, param_groups_for_weight_decay, set_lr
from npgpt.train import TrainConfig, evaluate, train

tune_malloc()  # reuse freed activation buffers between steps, as `npgpt train` does (no number changes)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. Characters to ids
#
# The corpus shipped with npgpt is about a million characters of Shakespeare. A character-level
# tokenizer gives each distinct character an id, in sorted order, so the same text always gives the same
# ids. `TextDataset` encodes the text once and splits it: the first 90% is for training, the last 10%
# for validation. The model never trains on the validation text, so its loss there tells us how well it
# does on text it has not seen.

# %%
text = load_text(shakespeare_path())
ds = TextDataset(text)
tok = ds.tokenizer
print(ds.describe())
print("vocabulary:", repr("".join(tok.chars)))
print()
print(text[:240])
ids = tok.encode("Romeo.")
print("encode('Romeo.') =", ids, "   decode back:", repr(tok.decode(ids)))

# %% [markdown]
# ## 2. Batches: `y` is `x` shifted by one
#
# `get_batch` cuts $B$ random windows of $T + 1$ consecutive ids out of the training split. The first
# $T$ ids of a window are the input `x`, the last $T$ the target `y`, so `y[:, t] = x[:, t + 1]`.
#
# Because attention is causal (notebook 07), the logits at position $t$ depend only on
# $x_0, \dots, x_t$. One forward pass therefore makes $T$ predictions per window at once, each from its
# own prefix, and the loss averages all $B \cdot T$ of them:
# $$L(\theta) = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=0}^{T-1} \log p_\theta\!\left(y_{b,t} \mid x_{b,0}, \dots, x_{b,t}\right).$$

# %%
x, y = ds.get_batch("train", 4, 16, np.random.default_rng(0))
print("x", x.shape, x.dtype, "  y", y.shape, y.dtype)
print("y[:, :-1] == x[:, 1:]:", np.array_equal(y[:, :-1], x[:, 1:]))
assert np.array_equal(y[:, :-1], x[:, 1:]), "the targets should be the inputs shifted by one"
print()
print("the first window, as the", x.shape[1], "training examples it holds:")
for t in range(x.shape[1]):
    print(f"  {tok.decode(x[0, : t + 1])!r:>22} -> {tok.decode(y[0, t : t + 1])!r}")

# %% [markdown]
# ## 3. The model and its first loss
#
# A small GPT: 2 blocks, 4 heads, width 96, a context of 64 characters.
#
# **Predict, then run.** Before any training, what loss does it score on Shakespeare, in nats? (The
# corpus has $V = 76$ distinct characters; notebook 05 has the tool.)
#
# <details><summary>Answer</summary>
#
# Near $\log V = \log 76 \approx 4.33$, the uniform guess (notebook 05): its logits are close to 0. Its
# samples are noise: every character about equally likely.
#
# </details>

# %%
cfg = GPTConfig(vocab_size=ds.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=96)
model = GPT(cfg, rng=1337)
print(f"{model.num_parameters():,} parameters")

x, y = ds.get_batch("train", 16, cfg.block_size, np.random.default_rng(0))
with npgpt.no_grad():
    _, loss0 = model(x, y)
print(f"loss at initialisation {loss0.item():.4f}   log V = log {ds.vocab_size} = {np.log(ds.vocab_size):.4f}")
assert abs(loss0.item() - np.log(ds.vocab_size)) < 0.1, "a fresh model should start near the uniform guess, log V"


def sample(model, prompt="\n", n=250, seed=0):
    # temperature 0.8: a little sharper than the model's distribution (notebook 11)
    out = model.generate(np.array([tok.encode(prompt)]), n, temperature=0.8, rng=seed)
    return tok.decode(out[0])


before = sample(model)
print("--- a sample before training ---")
print(before)

# %% [markdown]
# ## 4. AdamW's weight decay, on a GPT
#
# The AdamW update (Adam's moments, bias correction, the decoupled shrink
# $\theta \leftarrow (1 - \eta\lambda)\theta$) and why it beats SGD are taught in
# [notebook 05](05_a_first_language_model.ipynb). What is new with a GPT is *which* parameters to decay.
#
# **Weight decay** pulls weights towards 0, which keeps the big matrices from growing just to sharpen the
# logits. Classic L2 regularisation adds $\lambda\theta$ to the gradient; inside Adam that term is then
# divided by $\sqrt{\hat v}$ like the rest, so weights with large gradients are hardly decayed and weights
# with small ones are decayed a lot. AdamW (Loshchilov & Hutter) **decouples** it: the shrink
# $\theta \leftarrow (1 - \eta\lambda)\,\theta$ is applied directly, outside $m$ and $v$, the same relative
# amount for every decayed weight.
#
# **Who is decayed.** `param_groups_for_weight_decay` puts the matrices and embeddings (`ndim >= 2`) in a
# group with decay and the biases and LayerNorm gains and shifts (`ndim == 1`) in a group without. A
# LayerNorm gain's natural value is 1, not 0: decaying it would shrink the normalised signal that every
# later layer reads. Biases are shifts, a handful of numbers that add no capacity to memorise the data;
# decaying them only pulls the model away from a good fit.

# %%
groups = param_groups_for_weight_decay(model.named_parameters(), weight_decay=0.1)
name_of = {id(p): n for n, p in model.named_parameters()}
for g in groups:
    n_scalars = sum(p.data.size for p in g["params"])
    names = [name_of[id(p)] for p in g["params"]]
    print(f"weight_decay={g['weight_decay']}: {len(names)} tensors, {n_scalars:,} numbers, e.g. {names[:3]}")

# decoupled decay, measured: with a zero gradient Adam's step is 0 and only the shrink remains
w = npgpt.tensor(np.ones(3), requires_grad=True)  # "a matrix entry"
b = npgpt.tensor(np.ones(3), requires_grad=True)  # "a LayerNorm gain"
demo = AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=0.01)
for _ in range(100):
    w.grad, b.grad = np.zeros(3), np.zeros(3)
    demo.step()
print(
    f"after 100 steps with zero gradient: decayed {w.data[0]:.6f} = (1 - lr*wd)^100 = {(1 - 0.01 * 0.1) ** 100:.6f}; "
    f"not decayed {b.data[0]}"
)
assert np.allclose(w.data, (1 - 0.01 * 0.1) ** 100) and np.all(b.data == 1.0), "decoupled decay, and none for b"

# %% [markdown]
# ## 5. Learning rate: linear warmup, then cosine decay
#
# The schedule, its formula and why warmup and decay help are in [notebook 05](05_a_first_language_model.ipynb).
# Below: the schedule of the full `npgpt train` run, and the shorter one this notebook trains with.

# %%
default = TrainConfig()
full = CosineWarmup(default.lr, default.warmup_steps, default.max_steps, default.min_lr)
short = CosineWarmup(3e-3, 50, 600, 3e-4)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for ax, sched, who in [(axes[0], full, "npgpt train (defaults)"), (axes[1], short, "this notebook")]:
    title = f"{who}: peak {sched.max_lr:g}, warmup {sched.warmup_steps}, {sched.max_steps} steps, min {sched.min_lr:g}"
    steps = np.arange(sched.max_steps + 1)
    ax.plot(steps, [sched(int(s)) for s in steps])
    ax.axvline(sched.warmup_steps, color="gray", ls=":", lw=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
plt.tight_layout()
plt.show()
print("step 0:", short(0), "  step 49:", short(49), "  step 325:", round(short(325), 6), "  step 600:", short(600))
assert np.allclose([short(0), short(49), short(325), short(600)], [6e-5, 3e-3, 1.65e-3, 3e-4]), "the schedule's formula"

# %% [markdown]
# ## 6. Gradient clipping by the global norm
#
# Clipping by the global norm is taught in [notebook 05](05_a_first_language_model.ipynb): one common factor
# $c / (n + \epsilon)$ for every gradient when their global norm $n$ exceeds $c$, so the direction
# is kept. Here it is on two
# tensors at once, the way it acts on a model's parameters.

# %%
p1 = npgpt.tensor(np.zeros((2, 2)), requires_grad=True)
p2 = npgpt.tensor(np.zeros(3), requires_grad=True)
p1.grad, p2.grad = np.array([[3.0, 0.0], [0.0, 4.0]]), np.array([0.0, 12.0, 0.0])
before_clip = np.concatenate([p1.grad.ravel(), p2.grad])
norm = clip_grad_norm_([p1, p2], max_norm=1.0)
after_clip = np.concatenate([p1.grad.ravel(), p2.grad])
print("global norm before:", norm, "(sqrt(9 + 16 + 144) = 13)")
print("global norm after: ", np.linalg.norm(after_clip))
cos = before_clip @ after_clip / (np.linalg.norm(before_clip) * np.linalg.norm(after_clip))
print("cosine between the gradient before and after:", cos)
assert np.isclose(norm, 13.0) and np.isclose(np.linalg.norm(after_clip), 1.0) and np.isclose(cos, 1.0), (
    "clipping should return the norm before, shorten the gradient to norm 1, and keep its direction"
)

# %% [markdown]
# ### Your turn: one AdamW step
#
# Write `my_adamw_step(w, g, m, v, t, lr, betas, eps, weight_decay)`: one step of AdamW for a parameter
# array `w` with gradient `g`, moments `m`, `v` and step number `t` (1 for the first step); return the
# new `(w, m, v)`. The next cell runs three steps of yours and three of `npgpt.optim.AdamW` on the
# same numbers and compares.
#
# *Hint:* the decay is *decoupled*: it shrinks `w` directly and never enters `m` or `v`. Both moments
# are bias-corrected by $1 - \beta^t$ before the update.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_adamw_step(w, g, m, v, t, lr, betas, eps, weight_decay):
#     b1, b2 = betas
#     w = w * (1 - lr * weight_decay)
#     m = b1 * m + (1 - b1) * g
#     v = b2 * v + (1 - b2) * g * g
#     m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
#     return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
# ```
#
# </details>


# %%
def my_adamw_step(w, g, m, v, t, lr, betas, eps, weight_decay):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    b1, b2 = betas
    w = w * (1 - lr * weight_decay)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# %%
from npgpt.exercises import check_array

hp = dict(lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
ex_rng = np.random.default_rng(5)
p_ref = npgpt.tensor(ex_rng.standard_normal((3, 4)), requires_grad=True)
opt_ref = AdamW([p_ref], **hp)
w_mine, m_mine, v_mine = p_ref.numpy().copy(), np.zeros((3, 4)), np.zeros((3, 4))
for t_step in (1, 2, 3):
    g_t = ex_rng.standard_normal((3, 4))
    p_ref.grad = g_t.copy()
    opt_ref.step()
    w_mine, m_mine, v_mine = my_adamw_step(w_mine, g_t, m_mine, v_mine, t_step, **hp)
check_array(
    "w after 3 AdamW steps",
    w_mine,
    p_ref.numpy(),
    atol=1e-10,
    hint="decay w by (1 - lr * weight_decay) first; bias-correct m and v with 1 - beta**t; eps goes outside the sqrt",
)

# %% [markdown]
# ## 7. The training loop
#
# Here it is, written out. One step: draw a batch, set the learning rate from the schedule, forward to
# the loss, backward, clip, AdamW step. Every 50 steps `npgpt.train.evaluate` measures the mean loss on
# 10 fixed batches of each split (in eval mode, without building a graph), so the points of the curve
# are comparable with each other. 600 steps of batch 16 see about 600k characters, less than one pass
# over the training text. This takes about 10-30 s on a 2-core CPU.

# %% [markdown]
# The loop as a picture: each box is one line of the cell below.

# %%
from npgpt import viz

viz.draw_training_loop()

# %%
max_steps, batch_size, eval_every = 600, 16, 50
sched = CosineWarmup(3e-3, 50, max_steps, 3e-4)
opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=sched(0), betas=(0.9, 0.99))
batch_rng = np.random.default_rng(1)
evals = {split: ds.fixed_batches(split, 10, batch_size, cfg.block_size, seed=2) for split in ("train", "val")}

history, step_losses, grad_norms, lrs = [], [], [], []
t0 = time.perf_counter()
model.train()
for step in range(max_steps + 1):
    if step % eval_every == 0:
        history.append({"step": step, "train": evaluate(model, evals["train"]), "val": evaluate(model, evals["val"])})
        if step % 200 == 0:
            print(f"step {step:4d}: train loss {history[-1]['train']:.4f}, val loss {history[-1]['val']:.4f}")
    if step == max_steps:
        break
    set_lr(opt, sched(step))
    x, y = ds.get_batch("train", batch_size, cfg.block_size, batch_rng)
    _, loss = model(x, y)  # forward: mean next-character cross-entropy over B*T positions
    opt.zero_grad()
    loss.backward()  # backward: a gradient for every parameter, end to end
    grad_norms.append(clip_grad_norm_(model.parameters(), 1.0))
    opt.step()
    step_losses.append(loss.item())
    lrs.append(sched(step))
seconds = time.perf_counter() - t0
print(f"{max_steps} steps in {seconds:.1f} s ({max_steps * batch_size * cfg.block_size / seconds:,.0f} characters/s)")

# %%
ev_steps = [h["step"] for h in history]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
axes[0].plot(step_losses, alpha=0.3, lw=0.8, label="train, each step's batch")
axes[0].plot(ev_steps, [h["train"] for h in history], "o-", label="train (fixed batches)")
axes[0].plot(ev_steps, [h["val"] for h in history], "o-", label="val (fixed batches)")
axes[0].axhline(np.log(ds.vocab_size), color="gray", ls=":", label="log V (uniform guess)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("cross-entropy (nats per character)")
axes[0].legend()
axes[1].plot(grad_norms, lw=0.8, label="global grad norm (before clipping)")
axes[1].set_ylabel("global gradient norm")
axes[1].axhline(1.0, color="red", ls=":", label="clip at 1.0")
axes[1].set_xlabel("step")
axes[1].set_yscale("log")
lr_ax = axes[1].twinx()
lr_ax.plot(lrs, color="gray", lw=1)
lr_ax.set_ylabel("learning rate (gray)")
axes[1].legend(loc="upper right")
plt.tight_layout()
plt.show()
clipped = np.array(grad_norms) > 1.0
print(
    f"steps whose gradient was clipped: {clipped[:50].mean():.0%} of the warmup, {clipped[50:300].mean():.0%} "
    f"of steps 50-299, {clipped[300:].mean():.0%} of steps 300-599"
)

# %% [markdown]
# The train and val curves stay close: the model has seen each character less than once, so it cannot
# have memorised the training text; what it learnt carries over to text it never saw. (Val stays a
# little above train: the last 10% of the corpus is other plays, with other names and words.)
#
# The gradient norm is large in the first steps, falls, and rises again in the second half, a common
# sight as the learning rate decays; with `max_norm=1.0` most late steps are then clipped to norm 1.
# With Adam that costs little: Adam divides each update by the running size of the gradients, so a
# steady rescaling of all of them hardly changes the step. What clipping guards against is the single
# batch whose gradient is far above the recent ones.
#
# A loss $L$ in nats per character corresponds to a **perplexity** $e^{L}$: the model is as uncertain as
# if it chose uniformly among $e^{L}$ characters. Same prompt and same seed as before training:

# %%
val = history[-1]["val"]
print(
    f"val loss {history[0]['val']:.3f} -> {val:.3f}: perplexity {np.exp(history[0]['val']):.1f} -> {np.exp(val):.1f} "
    f"characters (of {ds.vocab_size})"
)
print("--- before training ---")
print(before)
print("--- after training ---")
print(sample(model))
assert val < history[0]["val"] - 1.5, "600 steps should bring the val loss far below its start"
assert abs(history[-1]["train"] - val) < 0.3, "train and val should stay close: less than one pass over the text"

# %% [markdown]
# ## 8. The library's `train()`
#
# `npgpt.train.train(TrainConfig(...))`, which the command `npgpt train` calls, runs this same loop and
# adds the bookkeeping of a real run: the eval points go to `log.jsonl`, the curves to `loss.png`, and a
# checkpoint (safetensors + JSON, written atomically) is saved at every eval, from which `--resume`
# continues bit for bit. Every field of `TrainConfig` is a flag of `npgpt train`.
#
# **The full default run** (`npgpt train`, no flags): 4 blocks, 4 heads, width 128, context 64, batch 12,
# 2000 steps, peak learning rate 2e-3 with 100 warmup steps and cosine decay to 2e-4, weight decay 0.1,
# clipping at 1.0. It reaches a **validation loss of about 1.93 after 2000 steps, in about 85 s on a
# 2-core CPU**. That is too long for a notebook, so here it is only stated; below, the same function
# runs a much shorter schedule on a smaller model.

# %%
print(
    "defaults:",
    {
        k: getattr(default, k)
        for k in (
            "n_layer",
            "n_head",
            "n_embd",
            "block_size",
            "batch_size",
            "max_steps",
            "lr",
            "min_lr",
            "warmup_steps",
            "weight_decay",
            "grad_clip",
        )
    },
)
workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb10-"))
quick = TrainConfig(
    out_dir=str(workdir / "run"),
    n_layer=2,
    n_head=4,
    n_embd=64,
    block_size=32,
    batch_size=16,
    max_steps=120,
    warmup_steps=10,
    lr=3e-3,
    min_lr=3e-4,
    eval_interval=40,
    eval_batches=4,
    progress=False,
    sample_chars=0,
)
result = train(quick)
print(
    f"train() returned: step {result.step}, train loss {result.train_loss:.4f}, val loss {result.val_loss:.4f}, "
    f"{result.seconds:.1f} s"
)
print("files:", sorted(p.name for p in result.out_dir.iterdir()))
print("last line of log.jsonl:", (result.out_dir / "log.jsonl").read_text().splitlines()[-1])
assert result.step == quick.max_steps and result.val_loss < np.log(ds.vocab_size) - 0.5, "train() should learn"
assert {"log.jsonl", "loss.png"} <= {p.name for p in result.out_dir.iterdir()}, "train() writes its log and curves"
plt.figure(figsize=(5, 3.4))
plt.imshow(plt.imread(result.out_dir / "loss.png"))
plt.axis("off")
plt.show()

# %% [markdown]
# ## 9. Overfitting
#
# A model with enough parameters can memorise a small training set instead of learning what generalises.
# To see it, train the same architecture (about 237k parameters) on only the first 5,000 characters of
# the corpus: 4,000 for training, the last 1,000 for validation, and keep going long after it has learnt
# what the little text has to teach (constant learning rate, 300 steps). The training loss keeps falling
# while the validation loss turns around and rises: the model is fitting the particular 4,000
# characters, not English or Shakespeare.
#
# Remedies: more data (the full corpus above: train and val stay together), a smaller model, dropout
# (`TrainConfig.dropout`), weight decay, and **early stopping**: keep the checkpoint with the lowest
# validation loss.

# %%
tiny = TextDataset(text[:5000], tokenizer=tok, val_fraction=0.2)  # same vocabulary as the full corpus
print(tiny.describe())
over = GPT(cfg, rng=1337)
opt = AdamW(param_groups_for_weight_decay(over.named_parameters(), 0.1), lr=3e-3, betas=(0.9, 0.99))
rng = np.random.default_rng(1)
tiny_evals = {split: tiny.fixed_batches(split, 4, 16, cfg.block_size, seed=2) for split in ("train", "val")}
curve = []
t0 = time.perf_counter()
for step in range(301):
    if step % 20 == 0:
        curve.append((step, evaluate(over, tiny_evals["train"]), evaluate(over, tiny_evals["val"])))
    if step == 300:
        break
    x, y = tiny.get_batch("train", 16, cfg.block_size, rng)
    _, loss = over(x, y)
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(over.parameters(), 1.0)
    opt.step()
curve = np.array(curve)
best = curve[curve[:, 2].argmin()]
print(f"{time.perf_counter() - t0:.1f} s")
print(
    f"lowest val loss {best[2]:.3f} at step {best[0]:.0f}; at the end: train {curve[-1, 1]:.3f}, val {curve[-1, 2]:.3f}"
)

plt.figure(figsize=(6, 3.8))
plt.plot(curve[:, 0], curve[:, 1], "o-", label="train (4,000 characters)")
plt.plot(curve[:, 0], curve[:, 2], "o-", label="val (1,000 unseen characters)")
plt.axvline(best[0], color="gray", ls=":", label=f"early stopping: step {best[0]:.0f}")
plt.xlabel("step")
plt.ylabel("cross-entropy")
plt.title("overfitting: train falls, val rises")
plt.legend()
plt.show()
assert curve[-1, 1] < curve[0, 1] - 1.0, "the training loss should keep falling"
assert best[0] < 300 and curve[-1, 2] > best[2] + 0.05, "the val loss should turn around and rise: overfitting"

# %% [markdown]
# ## 10. Diagnosing a run: activations, gradients, update-to-weight ratios
#
# A loss curve says *that* a run goes well or badly, not *where*. Karpathy's makemore (part 3)
# looks inside the network during training with three pictures, and `npgpt.diagnostics` records
# them for a GPT, per layer, only on the steps it is asked to (so the other steps cost nothing):
#
# * **Activations.** Each block's MLP computes $u = \mathrm{c\_fc}(\mathrm{LN}_2(x))$ and then
#   $\mathrm{GELU}(u)$. GELU is flat on the left: below $u = -3$ its derivative
#   $\Phi(u) + u\,\varphi(u)$ is under 0.012 in size, so such a unit passes back almost no gradient
#   (GELU's version of a saturated tanh). `Diagnostics` records the mean and std of $u$, its
#   **dead share** $P(u < -3)$, and the std of the residual stream leaving each block.
# * **Gradients.** The std of each weight matrix's gradient: in a healthy network the layers get
#   gradients of comparable size, none vanishing, none exploding.
# * **Update-to-weight ratios.** How much one optimizer step changes a weight matrix relative to
#   its size, $\log_{10}\left(\mathrm{std}(\Delta W) / \mathrm{std}(W)\right)$, measured by
#   comparing the weights before and after `opt.step()`. Karpathy's rule of thumb: about
#   $10^{-3}$. Near $10^{-1}$ each step rewrites a tenth of the weight: the learning rate is far
#   too high. Far below $10^{-4}$ the layer hardly learns.
#
# Adam makes the ratio easy to predict. Its step per coordinate is $\eta\,\hat m / \sqrt{\hat v}$, at
# most about $\eta$ in size, and at the very first step exactly $\eta \cdot \mathrm{sign}(g)$
# (then $\hat m = g$ and $\hat v = g^2$). So the ratio is about $\eta / \mathrm{std}(W)$: with
# $\eta = 3\times10^{-3}$ and GPT-2's initial std of 0.02 that is 0.15, $10^{-0.8}$, when the
# gradient keeps its sign from step to step, and less when it is noisy and the steps of $\hat m$
# cancel. A short run at a high learning rate therefore starts well above $10^{-3}$ and comes down
# as the cosine schedule lowers $\eta$.
#
# Below, the same small GPT (4 blocks, width 32) trains twice for 100 steps on the same batches: at
# $\eta = 3\times10^{-3}$ as in section 7, and at 10 times that.

# %%
import dataclasses

from npgpt.diagnostics import DEAD_BELOW, Diagnostics

small = GPTConfig(vocab_size=ds.vocab_size, block_size=32, n_layer=4, n_head=4, n_embd=32)
small_val = ds.fixed_batches("val", 4, 16, small.block_size, seed=2)


def watched_run(lr, norm="pre", warmup=20, steps=100, watch_every=5):
    """A fresh small GPT (same seed, same batches every time), trained with its diagnostics recorded."""
    m = GPT(dataclasses.replace(small, norm=norm), rng=1337)
    diag = Diagnostics(m)  # tracks the weight matrices and the embeddings
    opt = AdamW(param_groups_for_weight_decay(m.named_parameters(), 0.1), lr=lr, betas=(0.9, 0.99))
    sched = CosineWarmup(lr, warmup, steps, lr / 10)
    rng = np.random.default_rng(1)
    losses = []
    for step in range(steps):
        watch = step % watch_every == 0 or step == steps - 1
        set_lr(opt, sched(step))
        x, y = ds.get_batch("train", 16, small.block_size, rng)
        with diag.activations(step, enabled=watch):
            _, loss = m(x, y)
        opt.zero_grad()
        loss.backward()
        if watch:
            diag.record_gradients(step)  # before clipping: the gradient the loss really has
        clip_grad_norm_(m.parameters(), 1.0)
        with diag.updates(step, enabled=watch):
            opt.step()
        losses.append(loss.item())
    return diag, np.array(losses), evaluate(m, small_val)


t0 = time.perf_counter()
runs = {"lr 3e-3 (healthy)": watched_run(3e-3), "lr 3e-2 (10x too high)": watched_run(3e-2)}
print(f"2 runs of 100 steps in {time.perf_counter() - t0:.1f} s")
for who, (diag, _, val_loss) in runs.items():
    last = [diag.acts[i][-1] for i in range(small.n_layer)]
    print(
        f"{who:24s} val loss {val_loss:.3f};  per block at the end: GELU input std {[round(a.std, 2) for a in last]}, "
        f"dead share {[f'{a.dead:.1%}' for a in last]}, stream std {[round(a.stream_std, 1) for a in last]}"
    )


# %%
def matrices(diag):
    """The tracked weight matrices of the blocks, by name (the embeddings left out)."""
    return [n for n in diag.params if ".h." in n]


fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
for row, (who, (diag, _, _)) in zip(axes, runs.items()):
    for i, u in diag.preactivations.items():  # the GELU inputs of the last step, layer by layer
        hist, edges = np.histogram(u, bins=80, range=(-12, 12), density=True)
        row[0].plot((edges[1:] + edges[:-1]) / 2, hist, label=f"block {i}")
    row[0].axvline(DEAD_BELOW, color="red", ls=":", label="u = -3: GELU flat")
    row[0].set_yscale("log")
    row[0].set_title(f"{who}: GELU inputs at step 99", fontsize=10)
    row[0].set_xlabel("u = c_fc(ln_2(x))")
    row[0].legend(fontsize=7)
    for kind in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
        stds = [diag.grads[f"transformer.h.{i}.{kind}.weight"][-1].std for i in range(small.n_layer)]
        row[1].plot(range(small.n_layer), stds, "o-", label=kind)
    row[1].set_yscale("log")
    row[1].set_xticks(range(small.n_layer))
    row[1].set_title(f"{who}: gradient std per block, step 99", fontsize=10)
    row[1].set_xlabel("block")
    row[1].legend(fontsize=7)
    for name in diag.params:
        steps, ratio = diag.series("update_ratios", name, "log10_ratio")
        row[2].plot(steps, ratio, lw=0.8, color="C0" if ".h." in name else "C1")
    row[2].axhline(-3, color="black", ls="--", label="1e-3 guide")
    row[2].set_ylim(-4.5, 0)
    row[2].set_title(f"{who}: log10 update/weight (orange: embeddings)", fontsize=10)
    row[2].set_xlabel("step")
    row[2].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# **What healthy looks like** (the top row). The GELU inputs of every block are a bump around 0 with
# a std below 1 (printed above): nothing near the flat region, no dead units. The gradient stds of
# the layers are within a factor of a few of each other. The update ratios start between $10^{-2}$
# and $10^{-1}$ (Adam at $\eta = 3\times10^{-3}$ on weights of std 0.007-0.02, as computed above), and
# fall towards the $10^{-3}$ line as the cosine schedule brings $\eta$ down to $3\times10^{-4}$: a
# short run at a high learning rate spends most of its steps above the guide, and ends near it.
#
# **10 times the learning rate** (the bottom row). The first steps change the weights by more than
# a tenth each (ratios above $10^{-1}$); the weights and the residual stream blow up (its std grows
# to tens, against below 1 in the healthy run), the GELU inputs spread far wider and in some blocks
# a sizeable share of the units sits below $-3$, dead.
# The ratios then *fall*: not because the run got healthier, but because the weights it divides by
# have grown. The loss ends higher than the healthy run's, after the same 100 steps.
#
# The checks, with bounds that follow from the arithmetic above:
#
# * Adam's first step is $\eta\,\mathrm{sign}(g)$ in every coordinate, from the same initial
#   weights and the same batch: the 10x run's first ratios are **exactly** 1 higher in $\log_{10}$.
# * Healthy: every block's dead share below 1%. If $u$ were Gaussian with a std below 1, as printed
#   above, $P(u < -3)$ would be below 0.14%; 1% leaves room for heavier tails.
#   Too high: some block above 5%, which for a Gaussian needs a std above $3/1.645 \approx 1.8$, about
#   three times the healthy one.
# * A ratio of $10^{-1}$ rewrites a tenth of a weight matrix in one step, two decades above the
#   guide: the healthy run never reaches it after its warmup (its steps are noisy, so $\hat m$ is
#   well below Adam's bound of one $\eta$ per coordinate), the 10x run passes it during its warmup.

# %%
(healthy, _, val_ok), (sick, _, val_sick) = runs.values()
first = lambda d: np.array([d.update_ratios[n][0].log10_ratio for n in d.params])  # noqa: E731
print("first update ratio, 10x lr minus healthy (log10):", np.round(first(sick) - first(healthy), 6)[:4], "...")
assert np.allclose(first(sick) - first(healthy), 1.0, atol=1e-3), "Adam's first step is lr * sign(g): 10x lr, +1"
dead = lambda d: max(a.dead for i in d.acts for a in d.acts[i])  # noqa: E731
print(f"largest dead share: healthy {dead(healthy):.2%}, 10x lr {dead(sick):.1%}")
assert dead(healthy) < 0.01 < 0.05 < dead(sick), "no dead GELUs when healthy; many with a 10x learning rate"
after_warmup = lambda d: max(r.log10_ratio for n in matrices(d) for r in d.update_ratios[n] if r.step >= 20)  # noqa: E731
early = lambda d: max(r.log10_ratio for n in matrices(d) for r in d.update_ratios[n] if r.step < 20)  # noqa: E731
print(
    f"largest update ratio: healthy after warmup 10^{after_warmup(healthy):.2f}, 10x lr in warmup 10^{early(sick):.2f}"
)
assert after_warmup(healthy) < -1 < early(sick), "healthy updates stay under a tenth of the weight"
assert val_ok < val_sick, "the healthy run should end with the lower validation loss"


# %% [markdown]
# ## 11. Where the LayerNorm sits: pre-LN, post-LN, or none
#
# Notebook 09 measured, at initialisation, how the placement of the LayerNorms shapes the gradient
# of each layer. Here the three arrangements train. `GPTConfig(norm=...)` builds them from the
# same initial weights (a LayerNorm draws no random numbers):
#
# * `"pre"`, GPT-2 and GPT-3, npgpt's default: each sublayer reads a normalised copy of the
#   stream, the stream itself is never normalised, and `ln_f` comes before the head;
# * `"post"`, GPT-1 and the original Transformer: $x \leftarrow \mathrm{LN}(x + f(x))$ after each
#   sublayer, no `ln_f`;
# * `"none"`: no LayerNorm anywhere.
#
# The pre-LN run is section 10's healthy run; the other two train the same 100 steps on the same
# batches with the same warmup and learning rate.
#
# **Predict, then run.** Which arrangement reaches the lowest loss in 100 steps, and which one
# gives its blocks the largest gradients at step 0?

# %%
t0 = time.perf_counter()
by_norm = {"pre-LN (GPT-2)": runs["lr 3e-3 (healthy)"]}  # section 10's run: the same model, pre-LN
by_norm["post-LN (GPT-1)"] = watched_run(3e-3, norm="post")
by_norm["no LayerNorm"] = watched_run(3e-3, norm="none")
print(f"2 more runs of 100 steps in {time.perf_counter() - t0:.1f} s")


def block_grad_norms(diag, k):
    """The gradient norm of each block's four weight matrices together, at the k-th watched step."""
    blocks = range(small.n_layer)
    return np.array(
        [np.sqrt(sum(diag.grads[n][k].norm ** 2 for n in matrices(diag) if f".h.{i}." in n)) for i in blocks]
    )


fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for c, (who, (diag, losses, val_loss)) in enumerate(by_norm.items()):
    smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")  # the mean of 10 steps
    axes[0].plot(np.arange(9, len(losses)), smooth, color=f"C{c}", label=f"{who}: val {val_loss:.2f}")
    steps = np.array([g.step for g in diag.grads[matrices(diag)[0]]])
    per_block = np.array([block_grad_norms(diag, k) for k in range(len(steps))])  # (watched steps, blocks)
    axes[1].plot(steps, per_block[:, 0], color=f"C{c}", label=f"{who}: block 0")
    axes[1].plot(steps, per_block[:, -1], color=f"C{c}", ls=":", label=f"{who}: block {small.n_layer - 1}")
    axes[2].plot([diag.acts[i][-1].stream_std for i in range(small.n_layer)], "o-", color=f"C{c}", label=who)
axes[0].set_title("training loss (mean of 10 steps)", fontsize=10)
axes[0].set_xlabel("step")
axes[0].legend(fontsize=8)
axes[1].set_yscale("log")
axes[1].set_title("gradient norm of the first and the last block", fontsize=10)
axes[1].set_xlabel("step")
axes[1].legend(fontsize=7)
axes[2].set_yscale("log")
axes[2].set_title("std of the residual stream after each block, step 99", fontsize=10)
axes[2].set_xlabel("block")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()
for who, (diag, _, val_loss) in by_norm.items():
    block0 = [block_grad_norms(diag, k)[0] for k in range(len(diag.grads[matrices(diag)[0]]))]
    print(f"{who:16s} val loss {val_loss:.3f}; block 0's gradient norm from {min(block0):.1e} to {max(block0):.1e}")


# %% [markdown]
# **Pre-LN** trains fastest. At step 0 its blocks get gradients of the same size: the identity
# path hands every block the same gradient of the stream, and every sublayer reads a normalised,
# unit-scale input. Those gradients are also much larger than the other two arrangements': GPT-2's
# initialisation makes the stream tiny at first (the embeddings have std 0.02, their sum about
# $0.02\sqrt2 \approx 0.03$), `ln_f` divides it by that std, and so `ln_f`'s backward multiplies the
# gradient of the stream by the same $1/\sigma \approx 35$, for every block at once.
#
# **Post-LN** normalises the stream itself after every sublayer, so from block 0 on the stream has
# unit scale and no such factor appears: its gradients at step 0 are some 35 times smaller.
# **Without LayerNorm** nothing rescales anything: the logits $x\,W_{te}^\top$ start near 0 and every
# backward factor carries the 0.02 scale of the initial weights, so the gradients are smaller
# still. Adam divides each step by the running size of the gradient, so a small scale alone does
# not stop learning, and both train (no divergence here); but their gradients are unsteady:
# block 0's gradient norm swings over three to four decades during the run, against under two for
# pre-LN, and Adam's running average lags behind every swing. After 100 steps both are far behind
# pre-LN.
#
# What this small run does not show is the failure that made GPT-2 move the LayerNorms: deep
# post-LN stacks diverge without a warmup, because the gradients of their last layers do not
# shrink with depth (Xiong et al., 2020; notebook 09 measured it at initialisation on 12 blocks).
# With 4 blocks and a warmup, post-LN only trains slower.
#
# The checks: at step 0, pre-LN's block gradients equal within 10% (same stream gradient,
# unit-scale inputs), and more than 10 times post-LN's (the $1/\sigma \approx 35$ of `ln_f`), which
# are larger than those of no LayerNorm at all; after 100 steps pre-LN's validation loss is lower
# than both others by more than 0.1 nats, three times the standard error of a mean over the 2,048
# validation predictions (each with a spread of about 1.5 nats: $1.5/\sqrt{2048} \approx 0.03$).

# %%
step0 = {who: block_grad_norms(diag, 0) for who, (diag, _, _) in by_norm.items()}
for who, g in step0.items():
    print(f"{who:16s} gradient norm per block at step 0: {', '.join(f'{v:.1e}' for v in g)}")
pre0, post0, none0 = step0.values()
assert pre0.max() < 1.1 * pre0.min(), "pre-LN: every block gets a gradient of the same size at step 0"
assert pre0.min() > 10 * post0.max() and post0.min() > none0.max(), "ln_f's 1/std of the tiny initial stream"
val_of = {who: val_loss for who, (_, _, val_loss) in by_norm.items()}
assert val_of["pre-LN (GPT-2)"] + 0.1 < min(val_of["post-LN (GPT-1)"], val_of["no LayerNorm"]), (
    "pre-LN should train fastest in the same budget"
)


# %% [markdown]
# ## Check yourself
#
# 1. One step trains on a batch of $B = 16$ windows of $T = 64$ characters. How many next-character
#    predictions does its loss average over, and why not 16?
#
# <details><summary>Hint</summary>
#
# $16 \times 64 = 1024$: the causal mask lets position $t$ see only $x_0..x_t$, so every position of every
# window is its own prediction, all made in one forward pass.
#
# </details>
#
# 2. A freshly initialised model on a corpus with 200 distinct characters: what first loss do you
#    expect? What would a first loss of 9 suggest?
#
# <details><summary>Hint</summary>
#
# About $\log 200 \approx 5.3$. A loss far above $\log V$ means the initial logits are large and
# confidently wrong: check the initialisation scale (notebook 09).
#
# </details>
#
# 3. Which of the model's parameters get no weight decay? Find them with `groups[1]` and explain in
#    one sentence for `ln_1.weight`.
#
# <details><summary>Hint</summary>
#
# All biases and all LayerNorm gains and shifts (the 1-D tensors). A LayerNorm gain should stay near
# 1; decay would pull it towards 0 and shrink the signal every later layer reads.
#
# </details>
#
# 4. With `CosineWarmup(3e-3, 50, 600, 3e-4)`: what is the learning rate at steps 0, 49, 325 and 600?
#
# <details><summary>Hint</summary>
#
# $3\times10^{-3} \cdot 1/50 = 6\times10^{-5}$; $3\times10^{-3}$; halfway through the cosine,
# $3\times10^{-4} + \tfrac12 (2.7\times10^{-3}) = 1.65\times10^{-3}$; $3\times10^{-4}$ (printed in section 5).
#
# </details>
#
# 5. The gradients have a global norm of 4 and `max_norm=1`. What happens to each gradient? And if the
#    norm is 0.5?
#
# <details><summary>Hint</summary>
#
# Every gradient is multiplied by $1/4$ (up to $\epsilon$): the direction is kept, the length becomes 1.
# At 0.5 nothing changes: clipping only shortens.
#
# </details>
#
# 6. In the overfitting run, which two `TrainConfig` fields could you change to fight it without
#    adding data? Try one and compare the lowest val loss.
#
# <details><summary>Hint</summary>
#
# `dropout` (e.g. 0.2) and `weight_decay` (larger); also a smaller `n_embd`/`n_layer`. Early stopping
# needs no setting: keep the checkpoint with the lowest val loss.
#
# </details>
#
# 7. Section 10 in one run: one weight matrix's update-to-weight ratio stays near $10^{-4.5}$ while
#    the others sit near $10^{-3}$. Using Adam's step $\eta\,\hat m/\sqrt{\hat v}$, name two causes,
#    and what you would look at to tell them apart.
#
# <details><summary>Hint</summary>
#
# The ratio is about $\eta\,|\hat m/\sqrt{\hat v}|\,/\,\mathrm{std}(W)$. Either the matrix is large
# for its learning rate ($\mathrm{std}(W)$ far above the others', e.g. a wrong initialisation scale:
# look at the weights' std), or its gradient changes sign from step to step, so $\hat m$ averages to
# nearly nothing while $\sqrt{\hat v}$ stays large (look at the gradient's std over steps against
# its mean). Either way that layer hardly learns.
#
# </details>
#
# 8. Why does a GELU unit whose input is below $-3$ pass back almost no gradient, and why does the
#    10x learning rate of section 10 leave more units there?
#
# <details><summary>Hint</summary>
#
# GELU's derivative is $\Phi(u) + u\,\varphi(u)$: at $u=-3$ that is $0.0013 - 3 \cdot 0.0044
# \approx -0.012$, and smaller in size further left, so the backward multiplies the gradient by
# almost 0. Large steps grow the weights of `c_fc` and the residual stream (its std went to tens),
# so the inputs $u$ spread wider and more of their mass lands below $-3$.
#
# </details>
#
# 9. Section 11: a post-LN model has no `ln_f`. Why is none needed, and why are its block gradients
#    at step 0 some 35 times smaller than pre-LN's?
#
# <details><summary>Hint</summary>
#
# Post-LN ends every block with a LayerNorm, so the stream that reaches the head is already
# normalised. Pre-LN's `ln_f` divides the tiny initial stream (std about 0.03) by its std, and its
# backward multiplies the stream's gradient by the same $1/\sigma \approx 35$ for every block; post-LN
# normalises from block 0 on, where the stream already has unit scale, so no such factor appears.
#
# </details>

# %%
import shutil

shutil.rmtree(workdir)  # the run folder of section 8 (comment out to keep it)

# %% [markdown]
# ## Papers
#
# - Kingma and Ba, 2014, *Adam: A Method for Stochastic Optimization*. <https://arxiv.org/abs/1412.6980>
# - Loshchilov and Hutter, 2019, *Decoupled Weight Decay Regularization* (AdamW).
#   <https://arxiv.org/abs/1711.05101>
# - Loshchilov and Hutter, 2017, *SGDR: Stochastic Gradient Descent with Warm Restarts* (the cosine
#   schedule). <https://arxiv.org/abs/1608.03983>
# - Pascanu, Mikolov and Bengio, 2013, *On the difficulty of training recurrent neural networks*
#   (clipping by the global norm). <https://arxiv.org/abs/1211.5063>
# - Brown et al., 2020, *Language Models are Few-Shot Learners* (GPT-3): its appendix lists the
#   batch sizes, learning rates, warmup and cosine decay of every model size. <https://arxiv.org/abs/2005.14165>
# - Xiong et al., 2020, *On Layer Normalization in the Transformer Architecture* (why post-LN needs a
#   warmup and pre-LN does not). <https://arxiv.org/abs/2002.04745>
