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
# # 11 · Sampling
#
# A trained GPT gives, for a context $x_0 \dots x_t$, logits $z \in \mathbb{R}^V$ for the next token.
# Generating text is a loop: turn the last position's logits into a distribution, draw a token from it,
# append it to the context, run the model again. This notebook covers the choices in the middle of that
# loop, all in `npgpt/sampling.py`:
#
# * **temperature**, which sharpens or flattens the distribution, and **greedy** decoding (temperature 0);
# * **top-k** and **top-p** (nucleus) sampling, which cut off the unlikely tail;
#
# and the thing that makes the loop fast, the **KV cache** (`npgpt/generation.py`): why it gives exactly
# the same logits, what happens past the context window, and how much time it saves.

# %%
import inspect
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.generation
from npgpt.commands.sample import load_for_sampling
from npgpt.memory import tune_malloc
from npgpt.nn import GPT, GPTConfig
from npgpt.sampling import draw, filter_logits, sample_next
from npgpt.train import TrainConfig, train

tune_malloc()
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# First a model to sample from: the library's `train()` (notebook 10) on a short schedule, a small GPT
# with a context of 64 characters, about 10-30 s. `load_for_sampling` reads the checkpoint back, as
# `npgpt sample` does.

# %%
workdir = Path(tempfile.mkdtemp(prefix="npgpt-nb11-"))
cfg = TrainConfig(
    out_dir=str(workdir / "run"),
    n_layer=2,
    n_head=4,
    n_embd=96,
    block_size=64,
    batch_size=16,
    max_steps=800,
    warmup_steps=50,
    lr=3e-3,
    min_lr=3e-4,
    eval_interval=400,
    eval_batches=5,
    progress=False,
    sample_chars=0,
)
result = train(cfg)
model, tok = load_for_sampling(result.out_dir / "checkpoint")
V, block = model.config.vocab_size, model.config.block_size
print(
    f"val loss {result.val_loss:.3f} after {result.step} steps ({result.seconds:.1f} s); V = {V}, block_size = {block}"
)


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


# %% [markdown]
# ## 1. Temperature
#
# The model's own distribution is $p = \mathrm{softmax}(z)$. Sampling at temperature $T > 0$ draws from
# $$p_i(T) = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}} .$$
# $T = 1$ is the model's distribution. $T < 1$ widens the gaps between logits: likely tokens get more
# likely, the tail shrinks, and as $T \to 0$ all the mass goes to the argmax. $T > 1$ narrows the gaps
# and as $T \to \infty$ the distribution becomes uniform. The entropy $H = -\sum_i p_i \log p_i$ (in nats)
# measures how spread out it is: 0 for a certain choice, $\log V$ for the uniform one.

# %%
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

# %% [markdown]
# **Greedy decoding** is the limit $T \to 0$: always take the most likely token
# (`sample_next(..., temperature=0)` is `argmax`). It is deterministic and, with a small model, soon
# falls into a loop: once a phrase is the most likely continuation of itself, it repeats forever.

# %%
greedy = model.generate(np.array([tok.encode("\nRomeo.\n")]), 200, temperature=0)
print(tok.decode(greedy[0]))
print("argmax == sample_next at T = 0:", int(z.argmax()) == int(sample_next(z, temperature=0)[0]))

# %% [markdown]
# ## 2. Top-k and top-p
#
# Even a good model gives every token a little probability, and over hundreds of steps those small
# probabilities add up: sooner or later a very unlikely token is drawn and the text derails. Two common
# cut-offs, applied after the temperature by `filter_logits` (the dropped tokens get logit $-\infty$,
# hence probability 0, and the rest is renormalised):
#
# * **top-k** keeps the $k$ tokens with the largest logits;
# * **top-p** (nucleus sampling) sorts the tokens by probability and keeps the smallest set, from the
#   top, whose probabilities add up to at least $p$:
#   $$S_p = \{\text{the first } m \text{ tokens}\}, \qquad m = \min\Big\{m : \sum_{r=1}^{m} p_{(r)} \ge p\Big\}.$$
#
# Top-k keeps the same number of tokens everywhere. Top-p adapts: where the model is sure it keeps one
# or two tokens, where many continuations are plausible it keeps many.
#
# Does the order of temperature and cut-off matter? For **top-k**, no: dividing by $T > 0$ keeps the
# ranking, so the same $k$ tokens survive with the same scaled logits either way. For **top-p**, yes: the
# temperature changes the probabilities and so how many tokens it takes to reach $p$ (a low $T$ sharpens
# the distribution and keeps fewer). `filter_logits` applies the temperature first, as HuggingFace's
# `generate` does.

# %%
contexts = {"confident": "\nRomeo.\nI shoul", "uncertain": "\nRomeo.\nI will not s"}
for label, ctx in contexts.items():
    zc = next_logits(model, ctx)
    p = softmax(zc)[0]
    for name, kw in [("top_k=10", dict(top_k=10)), ("top_p=0.75", dict(top_p=0.75))]:
        kept = np.flatnonzero(np.isfinite(filter_logits(zc, **kw)[0]))
        kept = kept[np.argsort(-p[kept])]
        shown = " ".join(f"{show(tok.chars[i])}:{p[i]:.2f}" for i in kept[:8]) + (" ..." if len(kept) > 8 else "")
        print(
            f"{label:>9} ({ctx[-10:]!r:>14}) {name:>9}: keeps {len(kept):2d} tokens, mass {p[kept].sum():.3f}   {shown}"
        )

# %% [markdown]
# The same cut-offs as pictures, on the small model that `npgpt.pretrained.load_pretrained()` ships
# (trained longer than the one above, by `tools/make_pretrained.py`). Every panel shows the same
# characters in the same order.
#
# **Predict, then run.** How many of the 76 characters survive `top_k=5`? And `top_p=0.9`: more or
# fewer than 5, after `"ROMEO:\nWhat light through yonder wi"`, where the next letter is nearly certain?

# %%
from npgpt import viz
from npgpt.pretrained import load_pretrained

shakespeare, chars = load_pretrained()
viz.plot_sampling_distributions(shakespeare, chars, "ROMEO:\nWhat light through yonder wi")

# %% [markdown]
# ### Your turn: one sampler step
#
# Write `my_top_k(logits, k)`: logits of shape `(B, V)` in, the same logits out with every entry
# below the $k$-th largest of its row set to $-\infty$ (ties at the $k$-th value stay). Then
# `my_sample(logits, temperature, k, u)`: divide by the temperature, keep the top $k$, softmax, and
# return the first index whose cumulative probability exceeds the uniform number `u` (one per row):
# the inverse of the cumulative distribution, at exactly the `u` given. The check compares your draws
# with `npgpt.sampling.draw` on the same `u`, so a sampler with the right distribution that ignores
# `u` fails.
#
# *Hint:* `np.sort(logits, axis=-1)[:, -k]` is the $k$-th largest of each row; `np.cumsum` and a
# comparison give the index.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_top_k(logits, k):
#     kth = np.sort(logits, axis=-1)[:, -k][:, None]
#     return np.where(logits < kth, -np.inf, logits)
#
# def my_sample(logits, temperature, k, u):
#     z = my_top_k(logits / temperature, k)
#     p = np.exp(z - z.max(axis=-1, keepdims=True))
#     cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
#     return (cdf <= u[:, None]).sum(axis=-1)
# ```
#
# </details>


# %%
def my_top_k(logits, k):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    kth = np.sort(logits, axis=-1)[:, -k][:, None]
    return np.where(logits < kth, -np.inf, logits)


def my_sample(logits, temperature, k, u):
    # your code here
    z = my_top_k(logits / temperature, k)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    return (cdf <= u[:, None]).sum(axis=-1)


# %%
from npgpt.exercises import check, check_array

zz = np.random.default_rng(3).standard_normal((4, V))
check_array("my_top_k(z, 5)", my_top_k(zz, 5), filter_logits(zz, top_k=5), hint="keep the 5 largest of EACH row.")
us = np.random.default_rng(4).random((500, 4))  # 500 draws of one uniform per row
mine = np.stack([my_sample(zz, 0.7, 5, u) for u in us])
ref = np.stack([draw(filter_logits(zz, temperature=0.7, top_k=5), u[:, None]) for u in us])
bad = np.argwhere(mine != ref)
check(
    len(bad) == 0,
    f"my_sample differs from the inverse-CDF draw on {len(bad)} of {mine.size} (u, row) pairs"
    + (
        f", first at u = {us[tuple(bad[0])]:.4f}, row {bad[0][1]}: {mine[tuple(bad[0])]} vs {ref[tuple(bad[0])]}"
        if len(bad)
        else ""
    )
    + ". Scale by 1 / temperature, keep the top k, and count the cdf entries <= u (the given u, not a new one)",
)

# %% [markdown]
# ### Does the sampler draw from the right distribution?
#
# `sample_next` draws one uniform number per row and pushes it through the inverse of the filtered
# distribution's cumulative sum. One call on the same logits repeated $n = 40{,}000$ times gives 40,000
# independent draws; their frequencies should match $p = \mathrm{softmax}(\text{filter\_logits}(z))$ up to
# sampling noise, and filtered-out tokens must never appear. A frequency from $n$ draws has standard error
# $\sqrt{p(1-p)/n}$ (at most 0.0025 here); over 76 tokens the largest deviation is typically 2-3 of them.

# %%
n = 40_000
for kw in [dict(temperature=1.0), dict(temperature=0.7, top_k=5), dict(temperature=1.0, top_p=0.8)]:
    target = softmax(filter_logits(z, **kw))[0]
    draws = sample_next(np.repeat(z, n, axis=0), rng=np.random.default_rng(0), **kw)
    freq = np.bincount(draws, minlength=V) / n
    kept = target > 0
    z_scores = np.abs(freq - target)[kept] / np.sqrt(target[kept] * (1 - target[kept]) / n)
    print(
        f"{str(kw):<38} max |frequency - p| = {np.abs(freq - target).max():.4f} "
        f"({z_scores.max():.1f} standard errors), draws of filtered-out tokens: {int(freq[~kept].sum() * n)}"
    )

# %% [markdown]
# Samples from the trained model with several settings (same prompt, same seed):

# %%
settings = [
    dict(temperature=0.5),
    dict(temperature=0.8, top_k=40),
    dict(temperature=1.0),
    dict(temperature=1.0, top_p=0.9),
    dict(temperature=1.6),
]
for kw in settings:
    out = model.generate(np.array([tok.encode("\nRomeo.\n")]), 160, rng=0, **kw)
    print(f"===== {kw}")
    print(tok.decode(out[0]).strip())

# %% [markdown]
# ## 3. The KV cache, and why it is exact
#
# Without a cache, every step runs the model over the whole context again. But the keys and values of
# the earlier positions do not change from one step to the next: position $j$ sees only tokens
# $0 \dots j$ (the causal mask), so its $k_j, v_j$ in every layer are fixed once token $j$ is known. The
# new token's attention output needs only its own query and those keys and values,
# $$o_t = \sum_{j \le t} \mathrm{softmax}_j\!\left(\frac{q_t \cdot k_j}{\sqrt{d}}\right) v_j ,$$
# so a step can run just the **one new token** through the model, compute its $q_t, k_t, v_t$ in every
# layer, append $k_t, v_t$ to that layer's cache and attend over everything cached. That is the same
# arithmetic as the full pass (only the shapes of the matrix products differ, hence the rounding), so
# the logits agree to rounding: differences of order $10^{-15}$ in float64.
#
# `model.new_cache()` makes one `KVCache` per block; `model(ids, cache=cache)` continues at position
# `cache[0].length`. Step by step, in float64, against a full forward pass over the whole context:

# %%
viz.draw_kv_cache(steps=5, block_size=8)

# %%
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
            print(
                f"step {step:2d}: context {ids.shape[1]:2d} tokens, cache holds {cache[0].length:2d}, "
                f"keys of block 0 {cache[0].k.shape}, max |full - cached| = {diff:.1e}"
            )
        ids = np.concatenate([ids, nxt[:, None]], axis=1)
        cached, _ = model64(ids[:, -1:], cache=cache)  # only the new token goes through the model
print(f"largest difference over all steps: {worst:.1e}  (logits of size {np.abs(full.data).max():.1f})")
assert worst < 1e-12

# %% [markdown]
# ## 4. Past the context window
#
# A model with learned positions has embeddings for positions $0 \dots$ `block_size - 1` only, so, like
# nanoGPT, generation keeps the **last** `block_size` tokens. Once the window is full each new token
# pushes the oldest one out, and that moves every remaining token one position to the left: their
# position embeddings change, so all their keys and values change. (Even with relative positions such
# as RoPE, the dropped first token changes what every later token attended to, and so the keys of the
# deeper layers.) The cached keys no longer apply; reusing them would be an approximation. npgpt stays
# exact: from then on each step **refills** the cache with a full pass over the cropped window. The
# module says so itself:

# %%
print(npgpt.generation.__doc__.strip())
print()
print(inspect.getsource(npgpt.generation._steps))  # the generation loop: cache reuse or refill

# %% [markdown]
# To watch it, record the length of every input the model is called with while it generates 90 tokens
# after a 7-token prompt (window: 64): one prefill of 7, then single tokens until the cache holds 64,
# then a full window every step. The tokens are the same as generating without the cache.

# %%
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
print(
    f"tokens processed: {sum(calls)} with the cache, "
    f"{sum(min(prompt_ids.shape[1] + i, block) for i in range(90))} without"
)
without = model.generate(prompt_ids, 90, temperature=0, use_cache=False)
print("same tokens with and without the cache:", np.array_equal(with_cache, without))
print(repr(tok.decode(with_cache[0])))
n_prompt = prompt_ids.shape[1]
assert runs == [[n_prompt, 1], [1, block - n_prompt], [block, 90 - 1 - (block - n_prompt)]], (
    "expected one prefill, single tokens until the window is full, then a full window every step"
)
assert np.array_equal(with_cache, without), "generation with the KV cache should give the same tokens as without"


# %% [markdown]
# ## 5. The speed-up inside the window
#
# Generating $N$ tokens from a one-token prompt, without a cache step $i$ runs $i$ tokens through the
# model: $1 + 2 + \dots + N = N(N+1)/2$ token-passes. With the cache it runs $N$. The attention of the
# new token still reads all cached keys, so a cached step is not free, but the saving grows with the
# length. Measured below (best of 3) for the trained model (window 64) and for an untrained, wider model
# with a window of 256 (speed does not depend on the weights). No assertion: timings vary by machine.


# %%
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
    print(
        f"{name}: {n_new} tokens, {fast:7,.0f} tok/s with the cache, {slow:6,.0f} tok/s without: "
        f"{fast / slow:.1f}x faster; same tokens: {np.array_equal(a, b)}"
    )
    assert np.array_equal(a, b), "the cache should not change the tokens (its speed is not asserted)"

# %% [markdown]
# `npgpt bench` measures the same thing (its `generate` rows) next to a PyTorch reference.
#
# ## Check yourself
#
# 1. Logits $z = (2, 1, 0)$. What are the probabilities at $T = 1$ and at $T = 0.5$? Check with
#    `softmax(filter_logits(np.array([[2.0, 1.0, 0.0]]), temperature=0.5))`.
#
# <details><summary>Hint</summary>
#
# $T = 1$: $(0.665, 0.245, 0.090)$. $T = 0.5$ doubles the gaps, $z/T = (4, 2, 0)$: $(0.867, 0.117, 0.016)$.
#
# </details>
#
# 2. Which settings of `top_k` and `top_p` make sampling greedy, whatever the temperature (above 0)?
#
# <details><summary>Hint</summary>
#
# `top_k=1`, or any `top_p` smaller than the largest probability: the most likely token always stays
# (`filter_logits` never drops it), and it is then the only one.
#
# </details>
#
# 3. The model is certain: one token has probability 0.97. How many tokens do `top_k=40` and
#    `top_p=0.9` keep?
#
# <details><summary>Hint</summary>
#
# Top-k keeps 40 regardless. Top-p keeps 1: the first token alone already reaches 0.9.
#
# </details>
#
# 4. Why is the cache exact inside the window but would not be if, past it, we simply dropped the oldest
#    key and value from every layer's cache?
#
# <details><summary>Hint</summary>
#
# Inside the window nothing that a cached key or value depends on changes. Cropping changes the position
# of every token and removes a token every later one attended to, so all keys and values change; only a
# full pass over the new window computes them.
#
# </details>
#
# 5. How much memory does the cache of GPT-2 small (12 layers, width 768) take for a context of 1024
#    tokens in float32, per sequence?
#
# <details><summary>Hint</summary>
#
# Keys and values: $2 \times 12 \times 1024 \times 768 \times 4$ bytes $\approx 75$ MB.
#
# </details>

# %%
import shutil

shutil.rmtree(workdir)  # the run folder of the model trained above

# %% [markdown]
# ## Papers
#
# - Holtzman et al., 2019, *The Curious Case of Neural Text Degeneration*: nucleus (top-p) sampling,
#   and why greedy decoding and pure sampling both go wrong. <https://arxiv.org/abs/1904.09751>
# - Radford et al., 2019, *Language Models are Unsupervised Multitask Learners* (GPT-2): the samples
#   in it use top-k with $k = 40$.
#   <https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf>
# - Pope et al., 2022, *Efficiently Scaling Transformer Inference*: the KV cache's memory and speed at
#   scale. <https://arxiv.org/abs/2211.05102>
