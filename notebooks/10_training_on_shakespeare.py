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
