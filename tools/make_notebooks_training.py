"""Write the training, sampling and GPU lesson notebooks (09, 10 and 12) from the cell text below.

    python tools/make_notebooks_training.py            # (re)write notebooks/09_..., 10_..., 12_...
    python tools/make_notebooks_training.py --check    # exit 1 if a committed notebook differs

The notebooks are committed without outputs; CI runs them top to bottom with ``pytest --nbmake``
(on a 2-core CPU, so every schedule here is short). ``md``/``code``/``hint``/``render`` come from
``tools/make_notebooks.py`` (notebooks 00-03): same layout, fixed cell ids, byte-identical output
for an unchanged source.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import code, hint, md, write_or_check

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


# ============================================================================ 09
NB09 = [
    md(r"""
# 09 · Training on Shakespeare

Notebooks 04-08 built every piece of a GPT. Now we train one. A GPT is trained as a **causal
language model**: given the characters $x_0, \dots, x_t$ it predicts the next one, $x_{t+1}$. That is
the *only* objective. Every parameter (embeddings, attention, MLPs, LayerNorms, the tied output head)
is updated together, by backpropagation from that one loss: the model is trained **end to end**, not
layer by layer, and nothing in its input is masked out and reconstructed (that would be BERT, a
different model).

In this notebook:

1. characters become ids, and a batch is a set of random windows with the targets shifted by one;
2. a freshly initialised model scores $\log V$, as notebook 04 predicted;
3. **AdamW**, its decoupled weight decay, and why biases and LayerNorm parameters get none;
4. the **warmup + cosine** learning-rate schedule;
5. **global-norm gradient clipping**;
6. a training loop written out with the library's pieces, its loss curves, and samples before and after;
7. the library's own `npgpt.train.train`, which runs the same loop;
8. **overfitting**: a small model trained too long on too little text.

Everything uses npgpt's real code (`npgpt/data`, `npgpt/optim`, `npgpt/train.py`).
"""),
    code(r"""
import json
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
"""),
    md(r"""
## 1. Characters to ids

The corpus shipped with npgpt is about a million characters of Shakespeare. A character-level
tokenizer gives each distinct character an id, in sorted order, so the same text always gives the same
ids. `TextDataset` encodes the text once and splits it: the first 90% is for training, the last 10%
for validation. The model never trains on the validation text, so its loss there tells us how well it
does on text it has not seen.
"""),
    code(r"""
text = load_text(shakespeare_path())
ds = TextDataset(text)
tok = ds.tokenizer
print(ds.describe())
print("vocabulary:", repr("".join(tok.chars)))
print()
print(text[:240])
ids = tok.encode("Romeo.")
print("encode('Romeo.') =", ids, "   decode back:", repr(tok.decode(ids)))
"""),
    md(r"""
## 2. Batches: `y` is `x` shifted by one

`get_batch` cuts $B$ random windows of $T + 1$ consecutive ids out of the training split. The first
$T$ ids of a window are the input `x`, the last $T$ the target `y`, so `y[:, t] = x[:, t + 1]`.

Because attention is causal (notebook 07), the logits at position $t$ depend only on
$x_0, \dots, x_t$. One forward pass therefore makes $T$ predictions per window at once, each from its
own prefix, and the loss averages all $B \cdot T$ of them:
$$L(\theta) = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=0}^{T-1} \log p_\theta\!\left(y_{b,t} \mid x_{b,0}, \dots, x_{b,t}\right).$$
"""),
    code(r"""
x, y = ds.get_batch("train", 4, 16, np.random.default_rng(0))
print("x", x.shape, x.dtype, "  y", y.shape, y.dtype)
print("y[:, :-1] == x[:, 1:]:", np.array_equal(y[:, :-1], x[:, 1:]))
print()
print("the first window, as the", x.shape[1], "training examples it holds:")
for t in range(x.shape[1]):
    print(f"  {tok.decode(x[0, : t + 1])!r:>22} -> {tok.decode(y[0, t : t + 1])!r}")
"""),
    md(r"""
## 3. The model and its first loss

A small GPT: 2 blocks, 4 heads, width 96, a context of 64 characters. At initialisation its logits are
close to 0, so it predicts nearly the uniform distribution over the $V$ characters and its loss is near
$\log V$ (notebook 04). A loss far above that at step 0 would mean the initial logits are too large.
Its samples are noise: every character about equally likely.
"""),
    code(r"""
cfg = GPTConfig(vocab_size=ds.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=96)
model = GPT(cfg, rng=1337)
print(f"{model.num_parameters():,} parameters")

x, y = ds.get_batch("train", 16, cfg.block_size, np.random.default_rng(0))
with npgpt.no_grad():
    _, loss0 = model(x, y)
print(f"loss at initialisation {loss0.item():.4f}   log V = log {ds.vocab_size} = {np.log(ds.vocab_size):.4f}")


def sample(model, prompt="\n", n=250, seed=0):
    # temperature 0.8: a little sharper than the model's distribution (notebook 10)
    out = model.generate(np.array([tok.encode(prompt)]), n, temperature=0.8, rng=seed)
    return tok.decode(out[0])


before = sample(model)
print("--- a sample before training ---")
print(before)
"""),
    md(r"""
## 4. AdamW and decoupled weight decay

Adam keeps, for every parameter, running averages of its gradient $g$ and of $g^2$, and steps by their
ratio, so every coordinate moves by about the learning rate $\eta$ whatever the scale of its gradient.
At step $t = 1, 2, \dots$ (`npgpt/optim/adamw.py`, the same numbers as `torch.optim.AdamW`):
$$m \leftarrow \beta_1 m + (1-\beta_1)\, g, \qquad v \leftarrow \beta_2 v + (1-\beta_2)\, g^2,$$
$$\theta \leftarrow \theta - \eta\,\lambda\,\theta, \qquad
\theta \leftarrow \theta - \eta\, \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}.$$
The divisions by $1 - \beta^t$ undo the bias of $m$ and $v$ towards their initial zeros.

**Weight decay** pulls weights towards 0, which keeps the big matrices from growing just to sharpen the
logits. Classic L2 regularisation adds $\lambda\theta$ to the gradient; inside Adam that term is then
divided by $\sqrt{\hat v}$ like the rest, so weights with large gradients are hardly decayed and weights
with small ones are decayed a lot. AdamW (Loshchilov & Hutter) **decouples** it: the shrink
$\theta \leftarrow (1 - \eta\lambda)\,\theta$ is applied directly, outside $m$ and $v$, the same relative
amount for every decayed weight.

**Who is decayed.** `param_groups_for_weight_decay` puts the matrices and embeddings (`ndim >= 2`) in a
group with decay and the biases and LayerNorm gains and shifts (`ndim == 1`) in a group without. A
LayerNorm gain's natural value is 1, not 0: decaying it would shrink the normalised signal that every
later layer reads. Biases are shifts, a handful of numbers that add no capacity to memorise the data;
decaying them only pulls the model away from a good fit.
"""),
    code(r"""
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
print(f"after 100 steps with zero gradient: decayed {w.data[0]:.6f} = (1 - lr*wd)^100 = {(1 - 0.01 * 0.1) ** 100:.6f}; "
      f"not decayed {b.data[0]}")
"""),
    md(r"""
## 5. Learning rate: linear warmup, then cosine decay

`CosineWarmup(max_lr, warmup_steps, max_steps, min_lr)` gives the learning rate of step $s$:
$$\eta(s) = \begin{cases}
\eta_{\max}\,\dfrac{s+1}{s_w} & s < s_w \quad\text{(warmup)}\\[2mm]
\eta_{\min} + \tfrac12\left(1 + \cos\!\left(\pi\,\dfrac{s - s_w}{s_{\max} - s_w}\right)\right)(\eta_{\max} - \eta_{\min}) & s_w \le s \le s_{\max}
\end{cases}$$

*Warmup*: at the start the weights are random and Adam's $v$ has seen only a few gradients, so a full
step can be far too large in some coordinates; a linear ramp keeps the first updates small.
*Cosine decay*: large steps early make fast progress, small steps late let the weights settle instead
of bouncing around the noise of random batches. Below: the schedule of the full `npgpt train` run, and
the shorter one this notebook trains with.
"""),
    code(r"""
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
"""),
    md(r"""
## 6. Gradient clipping by the global norm

Now and then a batch produces a gradient much larger than usual, and one big step can undo many small
ones. `clip_grad_norm_(params, c)` measures the norm of *all* gradients together,
$$n = \sqrt{\sum_{p} \lVert g_p \rVert^2},$$
and, if $n > c$, multiplies every gradient by the same factor $c / (n + \epsilon)$. One common factor
keeps the direction of the update and only shortens it (clipping each element separately would change
the direction). It returns $n$ before clipping: a useful number to log.
"""),
    code(r"""
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
"""),
    md(r"""
## 7. The training loop

Here it is, written out. One step: draw a batch, set the learning rate from the schedule, forward to
the loss, backward, clip, AdamW step. Every 50 steps `npgpt.train.evaluate` measures the mean loss on
10 fixed batches of each split (in eval mode, without building a graph), so the points of the curve
are comparable with each other. 600 steps of batch 16 see about 600k characters, less than one pass
over the training text. This takes about 10-30 s on a 2-core CPU.
"""),
    code(r"""
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
"""),
    code(r"""
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
print(f"steps whose gradient was clipped: {clipped[:50].mean():.0%} of the warmup, {clipped[50:300].mean():.0%} "
      f"of steps 50-299, {clipped[300:].mean():.0%} of steps 300-599")
"""),
    md(r"""
The train and val curves stay close: the model has seen each character less than once, so it cannot
have memorised the training text; what it learnt carries over to text it never saw. (Val stays a
little above train: the last 10% of the corpus is other plays, with other names and words.)

The gradient norm is large in the first steps, falls, and rises again in the second half, a common
sight as the learning rate decays; with `max_norm=1.0` most late steps are then clipped to norm 1.
With Adam that costs little: Adam divides each update by the running size of the gradients, so a
steady rescaling of all of them hardly changes the step. What clipping guards against is the single
batch whose gradient is far above the recent ones.

A loss $L$ in nats per character corresponds to a **perplexity** $e^{L}$: the model is as uncertain as
if it chose uniformly among $e^{L}$ characters. Same prompt and same seed as before training:
"""),
    code(r"""
val = history[-1]["val"]
print(f"val loss {history[0]['val']:.3f} -> {val:.3f}: perplexity {np.exp(history[0]['val']):.1f} -> {np.exp(val):.1f} "
      f"characters (of {ds.vocab_size})")
print("--- before training ---")
print(before)
print("--- after training ---")
print(sample(model))
"""),
    md(r"""
## 8. The library's `train()`

`npgpt.train.train(TrainConfig(...))`, which the command `npgpt train` calls, runs this same loop and
adds the bookkeeping of a real run: the eval points go to `log.jsonl`, the curves to `loss.png`, and a
checkpoint (safetensors + JSON, written atomically) is saved at every eval, from which `--resume`
continues bit for bit. Every field of `TrainConfig` is a flag of `npgpt train`.

**The full default run** (`npgpt train`, no flags): 4 blocks, 4 heads, width 128, context 64, batch 12,
2000 steps, peak learning rate 2e-3 with 100 warmup steps and cosine decay to 2e-4, weight decay 0.1,
clipping at 1.0. It reaches a **validation loss of about 1.93 after 2000 steps, in about 85 s on a
2-core CPU**. That is too long for a notebook, so here it is only stated; below, the same function
runs a much shorter schedule on a smaller model.
"""),
    code(r"""
print("defaults:", {k: getattr(default, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size",
                                                     "max_steps", "lr", "min_lr", "warmup_steps", "weight_decay", "grad_clip")})
workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb09-"))
quick = TrainConfig(out_dir=str(workdir / "run"), n_layer=2, n_head=4, n_embd=64, block_size=32, batch_size=16,
                    max_steps=120, warmup_steps=10, lr=3e-3, min_lr=3e-4, eval_interval=40, eval_batches=4,
                    progress=False, sample_chars=0)
result = train(quick)
print(f"train() returned: step {result.step}, train loss {result.train_loss:.4f}, val loss {result.val_loss:.4f}, "
      f"{result.seconds:.1f} s")
print("files:", sorted(p.name for p in result.out_dir.iterdir()))
print("last line of log.jsonl:", (result.out_dir / "log.jsonl").read_text().splitlines()[-1])
plt.figure(figsize=(5, 3.4))
plt.imshow(plt.imread(result.out_dir / "loss.png"))
plt.axis("off")
plt.show()
"""),
    md(r"""
## 9. Overfitting

A model with enough parameters can memorise a small training set instead of learning what generalises.
To see it, train the same architecture (about 237k parameters) on only the first 5,000 characters of
the corpus: 4,000 for training, the last 1,000 for validation, and keep going long after it has learnt
what the little text has to teach (constant learning rate, 300 steps). The training loss keeps falling
while the validation loss turns around and rises: the model is fitting the particular 4,000
characters, not English or Shakespeare.

Remedies: more data (the full corpus above: train and val stay together), a smaller model, dropout
(`TrainConfig.dropout`), weight decay, and **early stopping**: keep the checkpoint with the lowest
validation loss.
"""),
    code(r"""
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
print(f"lowest val loss {best[2]:.3f} at step {best[0]:.0f}; at the end: train {curve[-1, 1]:.3f}, val {curve[-1, 2]:.3f}")

plt.figure(figsize=(6, 3.8))
plt.plot(curve[:, 0], curve[:, 1], "o-", label="train (4,000 characters)")
plt.plot(curve[:, 0], curve[:, 2], "o-", label="val (1,000 unseen characters)")
plt.axvline(best[0], color="gray", ls=":", label=f"early stopping: step {best[0]:.0f}")
plt.xlabel("step")
plt.ylabel("cross-entropy")
plt.title("overfitting: train falls, val rises")
plt.legend()
plt.show()
"""),
    md(
        r"""
## Check yourself

1. One step trains on a batch of $B = 16$ windows of $T = 64$ characters. How many next-character
   predictions does its loss average over, and why not 16?
"""
        + hint(r"""
$16 \times 64 = 1024$: the causal mask lets position $t$ see only $x_0..x_t$, so every position of every
window is its own prediction, all made in one forward pass.
""")
        + r"""

2. A freshly initialised model on a corpus with 200 distinct characters: what first loss do you
   expect? What would a first loss of 9 suggest?
"""
        + hint(r"""
About $\log 200 \approx 5.3$. A loss far above $\log V$ means the initial logits are large and
confidently wrong: check the initialisation scale (notebook 08).
""")
        + r"""

3. Which of the model's parameters get no weight decay? Find them with `groups[1]` and explain in
   one sentence for `ln_1.weight`.
"""
        + hint(r"""
All biases and all LayerNorm gains and shifts (the 1-D tensors). A LayerNorm gain should stay near
1; decay would pull it towards 0 and shrink the signal every later layer reads.
""")
        + r"""

4. With `CosineWarmup(3e-3, 50, 600, 3e-4)`: what is the learning rate at steps 0, 49, 325 and 600?
"""
        + hint(r"""
$3\times10^{-3} \cdot 1/50 = 6\times10^{-5}$; $3\times10^{-3}$; halfway through the cosine,
$3\times10^{-4} + \tfrac12 (2.7\times10^{-3}) = 1.65\times10^{-3}$; $3\times10^{-4}$ (printed in section 5).
""")
        + r"""

5. The gradients have a global norm of 4 and `max_norm=1`. What happens to each gradient? And if the
   norm is 0.5?
"""
        + hint(r"""
Every gradient is multiplied by $1/4$ (up to $\epsilon$): the direction is kept, the length becomes 1.
At 0.5 nothing changes: clipping only shortens.
""")
        + r"""

6. In the overfitting run, which two `TrainConfig` fields could you change to fight it without
   adding data? Try one and compare the lowest val loss.
"""
        + hint(r"""
`dropout` (e.g. 0.2) and `weight_decay` (larger); also a smaller `n_embd`/`n_layer`. Early stopping
needs no setting: keep the checkpoint with the lowest val loss.
""")
        + r"""
"""
    ),
    code(r"""
import shutil

shutil.rmtree(workdir)  # the run folder of section 8 (comment out to keep it)
"""),
]


# ============================================================================ 10
NB10 = [
    md(r"""
# 10 · Sampling

A trained GPT gives, for a context $x_0 \dots x_t$, logits $z \in \mathbb{R}^V$ for the next token.
Generating text is a loop: turn the last position's logits into a distribution, draw a token from it,
append it to the context, run the model again. This notebook covers the choices in the middle of that
loop, all in `npgpt/sampling.py`:

* **temperature**, which sharpens or flattens the distribution, and **greedy** decoding (temperature 0);
* **top-k** and **top-p** (nucleus) sampling, which cut off the unlikely tail;

and the thing that makes the loop fast, the **KV cache** (`npgpt/generation.py`): why it gives exactly
the same logits, what happens past the context window, and how much time it saves.
"""),
    code(r"""
import inspect
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.generation
from npgpt.memory import tune_malloc
from npgpt.nn import GPT, GPTConfig
from npgpt.commands.sample import load_for_sampling
from npgpt.sampling import filter_logits, sample_next
from npgpt.train import TrainConfig, train

tune_malloc()
np.set_printoptions(precision=4, suppress=True)
"""),
    md(r"""
First a model to sample from: the library's `train()` (notebook 09) on a short schedule, a small GPT
with a context of 64 characters, about 10-30 s. `load_for_sampling` reads the checkpoint back, as
`npgpt sample` does.
"""),
    code(r"""
workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb10-"))
cfg = TrainConfig(out_dir=str(workdir / "run"), n_layer=2, n_head=4, n_embd=96, block_size=64, batch_size=16,
                  max_steps=800, warmup_steps=50, lr=3e-3, min_lr=3e-4, eval_interval=400, eval_batches=5,
                  progress=False, sample_chars=0)
result = train(cfg)
model, tok = load_for_sampling(result.out_dir / "checkpoint")
V, block = model.config.vocab_size, model.config.block_size
print(f"val loss {result.val_loss:.3f} after {result.step} steps ({result.seconds:.1f} s); V = {V}, block_size = {block}")


def next_logits(model, prompt):
    # (1, V) logits for the token after `prompt` (the context cropped to the window)
    ids = np.array([tok.encode(prompt)[-model.config.block_size :]])
    with npgpt.no_grad():
        logits, _ = model(ids, last_only=True)
    return logits.data[:, -1, :].astype(np.float64)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # exp(-inf) = 0: filtered tokens get probability 0
    return e / e.sum(axis=-1, keepdims=True)


def show(ch):
    return {"\n": "\\n", " ": "␣"}.get(ch, ch)
"""),
    md(r"""
## 1. Temperature

The model's own distribution is $p = \mathrm{softmax}(z)$. Sampling at temperature $T > 0$ draws from
$$p_i(T) = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}} .$$
$T = 1$ is the model's distribution. $T < 1$ widens the gaps between logits: likely tokens get more
likely, the tail shrinks, and as $T \to 0$ all the mass goes to the argmax. $T > 1$ narrows the gaps
and as $T \to \infty$ the distribution becomes uniform. The entropy $H = -\sum_i p_i \log p_i$ (in nats)
measures how spread out it is: 0 for a certain choice, $\log V$ for the uniform one.
"""),
    code(r"""
prompt = "\nRomeo.\nI will not s"
z = next_logits(model, prompt)
order = np.argsort(-z[0])[:15]  # the 15 most likely characters at T = 1
fig, axes = plt.subplots(1, 4, figsize=(16, 3.2), sharey=True)
for ax, T in zip(axes, [0.3, 0.7, 1.0, 2.0]):
    p = softmax(filter_logits(z, temperature=T))[0]
    H = -(p[p > 0] * np.log(p[p > 0])).sum()
    ax.bar(range(15), p[order])
    ax.set_xticks(range(15), [show(tok.chars[i]) for i in order])
    ax.set_title(f"T = {T}: entropy {H:.2f} nats, top {p.max():.2f}")
axes[0].set_ylabel(f"p(next | {prompt[-12:]!r})")
plt.tight_layout()
plt.show()
print(f"log V = {np.log(V):.2f} nats (uniform)")
"""),
    md(r"""
**Greedy decoding** is the limit $T \to 0$: always take the most likely token
(`sample_next(..., temperature=0)` is `argmax`). It is deterministic and, with a small model, soon
falls into a loop: once a phrase is the most likely continuation of itself, it repeats forever.
"""),
    code(r"""
greedy = model.generate(np.array([tok.encode("\nRomeo.\n")]), 200, temperature=0)
print(tok.decode(greedy[0]))
print("argmax == sample_next at T = 0:", int(z.argmax()) == int(sample_next(z, temperature=0)[0]))
"""),
    md(r"""
## 2. Top-k and top-p

Even a good model gives every token a little probability, and over hundreds of steps those small
probabilities add up: sooner or later a very unlikely token is drawn and the text derails. Two common
cut-offs, applied after the temperature by `filter_logits` (the dropped tokens get logit $-\infty$,
hence probability 0, and the rest is renormalised):

* **top-k** keeps the $k$ tokens with the largest logits;
* **top-p** (nucleus sampling) sorts the tokens by probability and keeps the smallest set, from the
  top, whose probabilities add up to at least $p$:
  $$S_p = \{\text{the first } m \text{ tokens}\}, \qquad m = \min\Big\{m : \sum_{r=1}^{m} p_{(r)} \ge p\Big\}.$$

Top-k keeps the same number of tokens everywhere. Top-p adapts: where the model is sure it keeps one
or two tokens, where many continuations are plausible it keeps many.
"""),
    code(r"""
contexts = {"confident": "\nRomeo.\nI shoul", "uncertain": "\nRomeo.\nI will not s"}
for label, ctx in contexts.items():
    zc = next_logits(model, ctx)
    p = softmax(zc)[0]
    for name, kw in [("top_k=10", dict(top_k=10)), ("top_p=0.75", dict(top_p=0.75))]:
        kept = np.flatnonzero(np.isfinite(filter_logits(zc, **kw)[0]))
        kept = kept[np.argsort(-p[kept])]
        shown = " ".join(f"{show(tok.chars[i])}:{p[i]:.2f}" for i in kept[:8]) + (" ..." if len(kept) > 8 else "")
        print(f"{label:>9} ({ctx[-10:]!r:>14}) {name:>9}: keeps {len(kept):2d} tokens, mass {p[kept].sum():.3f}   {shown}")
"""),
    md(r"""
### Does the sampler draw from the right distribution?

`sample_next` draws one uniform number per row and pushes it through the inverse of the filtered
distribution's cumulative sum. One call on the same logits repeated $n = 40{,}000$ times gives 40,000
independent draws; their frequencies should match $p = \mathrm{softmax}(\text{filter\_logits}(z))$ up to
sampling noise, and filtered-out tokens must never appear. A frequency from $n$ draws has standard error
$\sqrt{p(1-p)/n}$ (at most 0.0025 here); over 76 tokens the largest deviation is typically 2-3 of them.
"""),
    code(r"""
n = 40_000
for kw in [dict(temperature=1.0), dict(temperature=0.7, top_k=5), dict(temperature=1.0, top_p=0.8)]:
    target = softmax(filter_logits(z, **kw))[0]
    draws = sample_next(np.repeat(z, n, axis=0), rng=np.random.default_rng(0), **kw)
    freq = np.bincount(draws, minlength=V) / n
    kept = target > 0
    z_scores = np.abs(freq - target)[kept] / np.sqrt(target[kept] * (1 - target[kept]) / n)
    print(f"{str(kw):<38} max |frequency - p| = {np.abs(freq - target).max():.4f} "
          f"({z_scores.max():.1f} standard errors), draws of filtered-out tokens: {int(freq[~kept].sum() * n)}")
"""),
    md(r"""
Samples from the trained model with several settings (same prompt, same seed):
"""),
    code(r"""
settings = [dict(temperature=0.5), dict(temperature=0.8, top_k=40), dict(temperature=1.0),
            dict(temperature=1.0, top_p=0.9), dict(temperature=1.6)]
for kw in settings:
    out = model.generate(np.array([tok.encode("\nRomeo.\n")]), 160, rng=0, **kw)
    print(f"===== {kw}")
    print(tok.decode(out[0]).strip())
"""),
    md(r"""
## 3. The KV cache, and why it is exact

Without a cache, every step runs the model over the whole context again. But the keys and values of
the earlier positions do not change from one step to the next: position $j$ sees only tokens
$0 \dots j$ (the causal mask), so its $k_j, v_j$ in every layer are fixed once token $j$ is known. The
new token's attention output needs only its own query and those keys and values,
$$o_t = \sum_{j \le t} \mathrm{softmax}_j\!\left(\frac{q_t \cdot k_j}{\sqrt{d}}\right) v_j ,$$
so a step can run just the **one new token** through the model, compute its $q_t, k_t, v_t$ in every
layer, append $k_t, v_t$ to that layer's cache and attend over everything cached. That is the same
arithmetic as the full pass (only the shapes of the matrix products differ, hence the rounding), so
the logits agree to rounding: differences of order $10^{-15}$ in float64.

`model.new_cache()` makes one `KVCache` per block; `model(ids, cache=cache)` continues at position
`cache[0].length`. Step by step, in float64, against a full forward pass over the whole context:
"""),
    code(r"""
model64 = load_for_sampling(result.out_dir / "checkpoint")[0].to(np.float64)
ids = np.array([tok.encode("\nRomeo.\n")])
cache = model64.new_cache()
worst = 0.0
with npgpt.no_grad():
    cached, _ = model64(ids, cache=cache)  # prefill: the prompt once, its keys and values kept
    for step in range(12):
        full, _ = model64(ids)  # no cache: the whole context again
        diff = np.abs(full.data[:, -1] - cached.data[:, -1]).max()
        worst = max(worst, diff)
        nxt = full.data[:, -1].argmax(axis=-1)
        if step < 4 or step == 11:
            print(f"step {step:2d}: context {ids.shape[1]:2d} tokens, cache holds {cache[0].length:2d}, "
                  f"keys of block 0 {cache[0].k.shape}, max |full - cached| = {diff:.1e}")
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
        cached, _ = model64(ids[:, -1:], cache=cache)  # only the new token goes through the model
print(f"largest difference over all steps: {worst:.1e}  (logits of size {np.abs(full.data).max():.1f})")
assert worst < 1e-12
"""),
    md(r"""
## 4. Past the context window

A model with learned positions has embeddings for positions $0 \dots$ `block_size - 1` only, so, like
nanoGPT, generation keeps the **last** `block_size` tokens. Once the window is full each new token
pushes the oldest one out, and that moves every remaining token one position to the left: their
position embeddings change, so all their keys and values change. (Even with relative positions such
as RoPE, the dropped first token changes what every later token attended to, and so the keys of the
deeper layers.) The cached keys no longer apply; reusing them would be an approximation. npgpt stays
exact: from then on each step **refills** the cache with a full pass over the cropped window. The
module says so itself:
"""),
    code(r"""
doc = npgpt.generation.__doc__
print(doc[doc.index("Past the context window"):].strip())
print()
print(inspect.getsource(npgpt.generation._steps).split("try:")[1].split("finally:")[0].rstrip())
"""),
    md(r"""
To watch it, record the length of every input the model is called with while it generates 90 tokens
after a 7-token prompt (window: 64): one prefill of 7, then single tokens until the cache holds 64,
then a full window every step. The tokens are the same as generating without the cache.
"""),
    code(r"""
calls = []
real_forward = model.forward


def recording_forward(idx, targets=None, cache=None, last_only=False):
    calls.append(idx.shape[1])
    return real_forward(idx, targets, cache=cache, last_only=last_only)


prompt_ids = np.array([tok.encode("\nRomeo.")])
model.forward = recording_forward  # an instance attribute shadows the method
try:
    with_cache = model.generate(prompt_ids, 90, temperature=0, use_cache=True)
finally:
    del model.forward
runs = []
for T in calls:
    if runs and runs[-1][0] == T:
        runs[-1][1] += 1
    else:
        runs.append([T, 1])
print("tokens per model call:", ", ".join(f"{T} x {k}" for T, k in runs))
print(f"tokens processed: {sum(calls)} with the cache, "
      f"{sum(min(prompt_ids.shape[1] + i, block) for i in range(90))} without")
without = model.generate(prompt_ids, 90, temperature=0, use_cache=False)
print("same tokens with and without the cache:", np.array_equal(with_cache, without))
print(repr(tok.decode(with_cache[0])))
"""),
    md(r"""
## 5. The speed-up inside the window

Generating $N$ tokens from a one-token prompt, without a cache step $i$ runs $i$ tokens through the
model: $1 + 2 + \dots + N = N(N+1)/2$ token-passes. With the cache it runs $N$. The attention of the
new token still reads all cached keys, so a cached step is not free, but the saving grows with the
length. Measured below (best of 3) for the trained model (window 64) and for an untrained, wider model
with a window of 256 (speed does not depend on the weights). No assertion: timings vary by machine.
"""),
    code(r"""
def tokens_per_second(model, n_new, use_cache, repeats=3):
    idx = np.zeros((1, 1), dtype=np.int64)
    model.generate(idx, 4, temperature=0, use_cache=use_cache)  # warm up
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = model.generate(idx, n_new, temperature=0, use_cache=use_cache)
        best = min(best, time.perf_counter() - t)
    return n_new / best, out


wide = GPT(GPTConfig(vocab_size=V, block_size=256, n_layer=4, n_head=4, n_embd=128), rng=0)
for name, m in [("trained, 2 x 96, window 64", model), ("untrained, 4 x 128, window 256", wide)]:
    n_new = m.config.block_size - 1  # prompt + new tokens fill the window exactly
    fast, a = tokens_per_second(m, n_new, use_cache=True)
    slow, b = tokens_per_second(m, n_new, use_cache=False)
    print(f"{name}: {n_new} tokens, {fast:7,.0f} tok/s with the cache, {slow:6,.0f} tok/s without: "
          f"{fast / slow:.1f}x faster; same tokens: {np.array_equal(a, b)}")
"""),
    md(
        r"""
`npgpt bench` measures the same thing (its `generate` rows) next to a PyTorch reference.

## Check yourself

1. Logits $z = (2, 1, 0)$. What are the probabilities at $T = 1$ and at $T = 0.5$? Check with
   `softmax(filter_logits(np.array([[2.0, 1.0, 0.0]]), temperature=0.5))`.
"""
        + hint(r"""
$T = 1$: $(0.665, 0.245, 0.090)$. $T = 0.5$ doubles the gaps, $z/T = (4, 2, 0)$: $(0.867, 0.117, 0.016)$.
""")
        + r"""

2. Which settings of `top_k` and `top_p` make sampling greedy, whatever the temperature (above 0)?
"""
        + hint(r"""
`top_k=1`, or any `top_p` smaller than the largest probability: the most likely token always stays
(`filter_logits` never drops it), and it is then the only one.
""")
        + r"""

3. The model is certain: one token has probability 0.97. How many tokens do `top_k=40` and
   `top_p=0.9` keep?
"""
        + hint(r"""
Top-k keeps 40 regardless. Top-p keeps 1: the first token alone already reaches 0.9.
""")
        + r"""

4. Why is the cache exact inside the window but would not be if, past it, we simply dropped the oldest
   key and value from every layer's cache?
"""
        + hint(r"""
Inside the window nothing that a cached key or value depends on changes. Cropping changes the position
of every token and removes a token every later one attended to, so all keys and values change; only a
full pass over the new window computes them.
""")
        + r"""

5. How much memory does the cache of GPT-2 small (12 layers, width 768) take for a context of 1024
   tokens in float32, per sequence?
"""
        + hint(r"""
Keys and values: $2 \times 12 \times 1024 \times 768 \times 4$ bytes $\approx 75$ MB.
""")
        + r"""
"""
    ),
    code(r"""
import shutil

shutil.rmtree(workdir)  # the run folder of the model trained above
"""),
]


# ============================================================================ 12
NB12 = [
    md(r"""
# 12 · The GPU

Notebook 00 introduced the **array module** idea: an op never calls `numpy` directly, it asks its
inputs which module holds them (`xp = get_array_module(x)`) and calls `xp.exp`, `xp.matmul`, ...
[CuPy](https://cupy.dev) implements NumPy's API on NVIDIA GPUs, so when the arrays are CuPy arrays the
*same* forward and backward code runs on the GPU. No op, no layer, no optimizer has a GPU version.

This notebook, on a real model:

1. how npgpt decides whether a GPU is there (`npgpt.cuda_available()`), and the error you get when
   you ask for one that is not;
2. what moves to the device (parameters, gradients, optimizer state, batches), with `device="cuda"` or
   `model.to("cuda")`;
3. what must **not** cross between host and device inside a training step, and why
   `clip_grad_norm_` returns a device scalar on CuPy;
4. where a GPU exists: the same numbers as the CPU, a training run, and the measured speed-up.

On a machine without a GPU (like the CI that runs these notebooks) every GPU cell says so and the
same code runs on the CPU.
"""),
    code(r"""
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
print("CuPy imported by `import npgpt`?", "cupy" in sys.modules)
HAVE_GPU = npgpt.cuda_available()
DEVICE = "cuda" if HAVE_GPU else "cpu"
print("npgpt.cuda_available():", HAVE_GPU, "-> this notebook runs on", DEVICE)
"""),
    md(r"""
## 1. How npgpt decides

`import npgpt` never imports CuPy (above: it is not in `sys.modules`), so npgpt works where CuPy is not
installed. CuPy is imported the first time a CUDA array or device is asked for. `cuda_available()`
tries exactly that and answers `True` only if CuPy imports **and** the CUDA runtime reports at least
one GPU; it never raises (no CuPy, no driver, no device: all `False`).
"""),
    code(r"""
import npgpt.backend

print(inspect.getsource(npgpt.backend.cupy_module))
print(inspect.getsource(npgpt.backend.cuda_available))
"""),
    md(r"""
Asking for the GPU where there is none fails at once, with a `DeviceError` that says what is missing
and how to install it; `npgpt train --device cuda` prints the same message after `npgpt train:` and
exits with status 2. Where a GPU exists, the same lines simply work.
"""),
    code(r"""
ds = TextDataset(load_text(shakespeare_path()))
cfg = GPTConfig(vocab_size=ds.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128)  # npgpt train's model
try:
    gpu_model = GPT(cfg, rng=0, device="cuda")
    print("built on", gpu_model.transformer.wte.weight.device)
    t = npgpt.tensor([1.0, 2.0], device="cuda")
    print("a tensor on the GPU:", t.device, type(t.data))
except DeviceError as e:
    print("DeviceError:", e)
"""),
    md(r"""
## 2. The array module

Four small functions in `npgpt/backend.py` carry the whole idea:

* `get_array_module(a)`: `numpy` for NumPy arrays, `cupy` for CuPy arrays; every op starts with it;
* `device_of(a)`: `"cpu"` or `"cuda"`;
* `to_device(a, device)`: a copy on the other device (or `a` itself if it is already there);
* `xp_for_device(device)`: the module that makes new arrays on `device`.

Here is the start of LayerNorm's forward (`npgpt/ops/layernorm.py`): `xp` comes from the input, and the
rest is written once for both devices.
"""),
    code(r"""
from npgpt.ops.layernorm import LayerNorm

print("\n".join(inspect.getsource(LayerNorm.forward).splitlines()[:12]))
a = np.ones(3, dtype=np.float32)
print("get_array_module:", get_array_module(a).__name__, "  device_of:", device_of(a),
      "  xp_for_device('cpu'):", xp_for_device("cpu").__name__)
if HAVE_GPU:
    g = to_device(a, "cuda")
    print("after to_device(a, 'cuda'):", get_array_module(g).__name__, device_of(g), type(g))
"""),
    md(r"""
## 3. What moves to the device

Everything the training step touches must live on the device:

* the **parameters**: `GPT(cfg, device="cuda")` creates them there, or `model.to("cuda")` moves a model
  built on the CPU. `to` keeps the same `Parameter` objects and rebinds their `.data`, so an optimizer
  made before the move still holds the right objects;
* the **gradients**: the backward computes them from the device arrays, so they are born there;
* the **optimizer state**: AdamW creates $m$ and $v$ at its first step with `xp.zeros_like(p.data)`,
  so they land next to the parameter, with no change to the optimizer;
* the **batches**: token ids are drawn on the host (NumPy) and copied over with `to_device`. That copy
  is small (`x` and `y`, $2 \times B \times T$ int64 ids: 12 KB for batch 12 and context 64) and
  happens once per step in `npgpt train`; a benchmark uploads its batches in advance so that it is
  not timed.

The same lines run on the CPU, where `to` and `to_device` have nothing to do:
"""),
    code(r"""
model = GPT(cfg, rng=0)  # built on the CPU
opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))
model.to(DEVICE)  # same Parameter objects, .data now on DEVICE
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
"""),
    md(r"""
## 4. What must not move inside a training step

A GPU works **asynchronously**: each CuPy call only queues a kernel and returns, so Python runs ahead
and keeps the GPU busy. Anything that copies a result from the device to the host, `loss.item()`,
`float(x)`, `print(array)`, an `if` on a device value, has to wait until everything queued before it
has run: a **synchronisation** that leaves the GPU idle while Python catches up. (NumPy refuses CuPy
arrays outright: `np.asarray(cupy_array)` raises a `TypeError`, so such a copy cannot happen by accident
inside an op.) Copies the other way (re-uploading weights or state) are pure waste.

So, inside a step, nothing crosses: parameters, gradients and optimizer state stay on the device for
the whole run. The one place where a training step naturally wants a number on the host is gradient
clipping: "is the norm above `max_norm`?". `clip_grad_norm_` makes that decision **on the device**: on
CuPy it computes the factor $\min(c / (n + \epsilon), 1)$ as a device array and multiplies by it
unconditionally, and returns the norm as a 0-d device array; only on NumPy does it return a Python float.
"""),
    code(r"""
src = inspect.getsource(clip_grad_norm_)
print(src[src.index("    if xp is not np:"):src.index("    total = math.sqrt")].rstrip())
"""),
    md(r"""
A device-agnostic training step, used for everything below. It reads nothing back: the loss and the
norm are returned as they are (device values on CuPy), and the caller converts them only when it
logs, every so many steps rather than every step.
"""),
    code(r"""
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
print(f"on {DEVICE}: clip_grad_norm_ returned {type(norm).__module__}.{type(norm).__name__}; "
      f"logged: loss {float(loss.item()):.4f}, norm {float(norm):.4f}")
"""),
    md(r"""
On a GPU we can prove that a step makes no device-to-host copy: inside
`cupyx.allow_synchronize(False)` any synchronising copy raises an error (the test
`tests/test_cuda_training.py` does the same, and also counts host-to-device uploads).
"""),
    code(r"""
if HAVE_GPU:
    import cupy
    import cupyx

    with cupyx.allow_synchronize(False):  # a device-to-host copy in here would raise
        loss, norm = train_steps(model, opt, batches)
    cupy.cuda.Device().synchronize()
    print("3 training steps, no synchronising copy; the loss is", type(loss.data).__module__, "array", loss.item())
else:
    print("no GPU here: skipping the synchronisation check (on the CPU there is nothing to copy)")
"""),
    md(r"""
## 5. The same numbers on both devices

The GPU runs the same formulas, so in float64 the loss and every gradient agree with the CPU to
rounding (about $10^{-12}$); in float32 they agree to float32 rounding (typically around $10^{-6}$
relative), because the GPU's matrix products and sums add their terms in a different order.
"""),
    code(r"""
if HAVE_GPU:
    small = GPTConfig(vocab_size=ds.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    cpu64 = GPT(small, rng=0, dtype=np.float64)
    gpu64 = GPT(small, rng=0, dtype=np.float64).to("cuda")
    xb, yb = ds.get_batch("train", 8, 32, np.random.default_rng(2))
    lc, lg = cpu64(xb, yb)[1], gpu64(to_device(xb, "cuda"), to_device(yb, "cuda"))[1]
    lc.backward()
    lg.backward()
    worst = max(np.abs(to_device(pg.grad, "cpu") - pc.grad).max()
                for pc, pg in zip(cpu64.parameters(), gpu64.parameters()))
    print(f"float64 loss: cpu {lc.item():.15f}, gpu {lg.item():.15f}; largest gradient difference {worst:.1e}")
else:
    print("no GPU here: nothing to compare (tests/test_cuda_training.py checks this where CuPy and a GPU exist)")
"""),
    md(r"""
## 6. The speed-up

A fair timing of a GPU waits for it: `cupy.cuda.Device().synchronize()` before starting and before
stopping the clock, after a few warm-up steps (the first calls compile and cache kernels, and grow
CuPy's memory pool). The batches are uploaded in advance. The numbers are milliseconds per training
step (forward, backward, clip, AdamW).

How large the speed-up is depends on the size of the model. Every op is at least one kernel launch
(a few microseconds), and a small model's step is hundreds of small ops: the GPU is then limited by
launches, not arithmetic. The bigger the matrices, the more of the GPU's arithmetic is used, so the
table also times a larger model (6 blocks, width 384, context 256) where a GPU is present.
"""),
    code(r"""
def ms_per_step(device, cfg, batch_size, steps, warmup=3):
    model = GPT(cfg, rng=0, device=device)
    opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    batches = [tuple(to_device(a, device) for a in ds.get_batch("train", batch_size, cfg.block_size, rng))
               for _ in range(warmup + steps)]
    sync = xp_for_device(device).cuda.Device().synchronize if device == "cuda" else (lambda: None)
    train_steps(model, opt, batches[:warmup])
    sync()
    t = time.perf_counter()
    train_steps(model, opt, batches[warmup:])
    sync()
    return (time.perf_counter() - t) / steps * 1e3


sizes = {"npgpt train's model: 4 x 128, T 64, B 12": (cfg, 12)}
if HAVE_GPU:
    sizes["larger: 6 x 384, T 256, B 8"] = (GPTConfig(vocab_size=ds.vocab_size, block_size=256, n_layer=6, n_head=6,
                                                      n_embd=384), 8)
for name, (c, B) in sizes.items():
    cpu_ms = ms_per_step("cpu", c, B, steps=10 if c.n_embd < 256 else 3)
    if HAVE_GPU:
        gpu_ms = ms_per_step("cuda", c, B, steps=20)
        print(f"{name:<42} cpu {cpu_ms:8.1f} ms/step   gpu {gpu_ms:7.2f} ms/step   speed-up {cpu_ms / gpu_ms:5.1f}x")
    else:
        print(f"{name:<42} cpu {cpu_ms:8.1f} ms/step   (no GPU here: no speed-up to measure)")
"""),
    md(r"""
Finally a short training run on the GPU with the library's `train()`: `TrainConfig(device="cuda")` is
all it takes (`npgpt train --device cuda` on the command line). On a CPU-only machine this cell only
says so; section 8 of notebook 09 runs the CPU version.
"""),
    code(r"""
if HAVE_GPU:
    workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb12-"))
    run = {}
    for device in ("cpu", "cuda"):
        res = train(TrainConfig(out_dir=str(workdir / device), device=device, max_steps=200, warmup_steps=20,
                                eval_interval=100, eval_batches=5, progress=False, sample_chars=0), log=lambda *a: None)
        run[device] = res
        print(f"{device:>4}: 200 steps in {res.seconds:5.1f} s (evaluations and checkpoints included), "
              f"val loss {res.val_loss:.3f}")
    print(f"speed-up of the whole run: {run['cpu'].seconds / run['cuda'].seconds:.1f}x")
    import shutil

    shutil.rmtree(workdir)
else:
    print("no GPU here: `npgpt train --device cuda` would stop with the DeviceError shown in section 1")
"""),
    md(
        r"""
To compare npgpt with a PyTorch reference of the same model and weights, on the GPU:

```bash
npgpt bench --device cuda                 # train step, forward, generation; tiny, baby and mid models
npgpt bench --device cuda --configs mid   # only the largest
```

(`npgpt bench` without `--device` measures the CPU. The PyTorch side needs a CUDA build of torch.)

## Check yourself

1. Which of these, inside a training loop on the GPU, make the CPU wait for the GPU:
   `model(x, y)`, `loss.backward()`, `clip_grad_norm_(...)`, `loss.item()`, `print(step)`,
   `if norm > 1:` with the `norm` that `clip_grad_norm_` returned?
"""
        + hint(r"""
`loss.item()` and `if norm > 1:` (it needs the value on the host). The others only queue kernels;
`print(step)` prints a Python int.
""")
        + r"""

2. Why does AdamW need no change to run on the GPU?
"""
        + hint(r"""
Its state is created with `xp.zeros_like(p.data)`, where `xp` comes from the parameter, and every
update is an in-place array operation of that module.
""")
        + r"""

3. GPT-2 small has 124,439,808 parameters. How much GPU memory do the float32 parameters, gradients
   and AdamW state take, before any activations?
"""
        + hint(r"""
Parameters 0.50 GB, gradients 0.50 GB, $m$ and $v$ 1.0 GB: about 2 GB (4 bytes x 4 copies x 124M).
""")
        + r"""

4. A machine has CuPy installed but no NVIDIA driver. What does `npgpt.cuda_available()` return, and
   what does `GPT(cfg, device="cuda")` do?
"""
        + hint(r"""
`False`: `cupy_module()` catches the failing `getDeviceCount()` and raises `DeviceError`, which
`cuda_available()` turns into `False`. The model constructor raises that `DeviceError`.
""")
        + r"""

5. Why is the speed-up of the 4 x 128 model smaller than that of the 6 x 384 one?
"""
        + hint(r"""
A small model's step is many tiny kernels; launch overhead, not arithmetic, sets its pace. Bigger
matrices give each kernel more work, which a GPU does far faster than a CPU.
""")
        + r"""
"""
    ),
]


# ============================================================================ writing
NOTEBOOK_CELLS = {
    "09_training_on_shakespeare.ipynb": NB09,
    "10_sampling.ipynb": NB10,
    "12_the_gpu.ipynb": NB12,
}


def main(argv=None):
    return write_or_check(NOTEBOOK_CELLS, argv, "tools/make_notebooks_training.py")


if __name__ == "__main__":
    sys.exit(main())
