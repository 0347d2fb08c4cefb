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
# # 14 · Why scale
#
# Popular write-ups about GPT are mostly about size, and often wrong about it: GPT-1 is "11.7B"
# (it has about 117M parameters), GPT-2 is "1.5T" (1.5B), ChatGPT is "a bigger GPT-3" (it is a
# GPT-3.5 model tuned with supervised examples and RLHF, notebook 15). This notebook asks the
# question behind the claims: **why does anyone train a bigger model, and what appears when they do?**
# We answer it with npgpt's own models, on a CPU:
#
# 1. counting compute: C = 6ND, and what the 6 leaves out;
# 2. a sweep of 26 runs (8 model shapes, 888 to 595,072 parameters, four compute budgets), shipped
#    with npgpt, and one of its points trained again here to show the numbers reproduce;
# 3. the laws fitted to it: loss against parameters (Kaplan et al. 2020), IsoFLOP curves and the
#    compute-optimal model size (Hoffmann et al. 2022, "Chinchilla"), with their uncertainties;
# 4. the size claims, answered by the laws;
# 5. in-context learning born in an induction head (Olsson et al. 2022): a sudden phase change in a
#    two-layer attention-only model, its two heads in the attention maps, and the ability removed by
#    ablating one head; then the same diagnostic on our Shakespeare model.
#
# The code: `npgpt/scaling.py` (counts and fits), `npgpt/sweep.py` and `npgpt sweep` (the grid),
# `npgpt/induction.py` (the attention-only model and the head scores).

# %%
import math
import tempfile
import time

import numpy as np

from npgpt.data import load_text, shakespeare_path
from npgpt.exercises import check_power_law_fit
from npgpt.induction import (
    ablate,
    half_losses,
    head_scores,
    in_context_loss_drop,
    phase_change_step,
    position_losses,
    repeated_tokens,
    train_induction,
)
from npgpt.nn import GPTConfig, parameter_count
from npgpt.pretrained import load_pretrained
from npgpt.scaling import (
    CHINCHILLA_TOKENS_PER_PARAM,
    fit_sweep,
    flops_per_token,
    non_embedding_params,
    train_flops,
)
from npgpt.sweep import load_results, run_one
from npgpt.viz import attention_weights, plot_head_maps, plot_phase_change, plot_scaling_laws

t_start = time.process_time()

# %% [markdown]
# ## 1. Counting compute
#
# A matmul of a (1, C) row by a (C, C') matrix costs C C' multiplications and as many additions:
# **2 FLOPs per weight per token**. The backward pass computes two matmuls for each one of the
# forward (the gradient for the input and the one for the weight), so a training step costs
# **3 x 2 = 6 FLOPs per weight per token**, and a whole run
#
# $$C \approx 6 N D \qquad (N \text{ parameters},\ D \text{ training tokens}).$$
#
# Kaplan et al. count N without the embeddings (a lookup costs nothing); so does
# `npgpt.scaling.non_embedding_params`. What 6N leaves out is attention's own matmuls, q k^T and
# weights @ v, which grow with the context T rather than with N, and the output head over the
# vocabulary. `flops_per_token` counts every matmul exactly:

# %%
for name, cfg in [
    ("a sweep model 2x32", GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=32)),
    ("our Shakespeare model", load_pretrained()[0].config),
    ("GPT-2 small", GPTConfig.preset("gpt2")),
    ("GPT-3", GPTConfig.preset("gpt3")),
]:
    n = non_embedding_params(cfg)
    print(f"{name:22s} N = {n:>15,}   6N = {6 * n:.3g}   exact = {flops_per_token(cfg):.3g} FLOPs/token")

# %% [markdown]
# For the big models 6N is within a few percent of the exact count; for our tiny ones attention over
# 64 positions and the head are as large as the weights' share. The papers, and our sweep, budget
# with 6ND; the exact count is stored next to it in every run. GPT-3's training run, 175B parameters
# on 300B tokens:

# %%
gpt3 = GPTConfig.preset("gpt3")
C_gpt3 = train_flops(gpt3, 300e9)
print(f"GPT-3: 6 N D = {C_gpt3:.3g} FLOPs (Brown et al. 2020 report 3.14e23)")

# %% [markdown]
# ## 2. The sweep
#
# `npgpt sweep` trains every model shape of a grid at every compute budget: for a budget C and a
# model with N non-embedding parameters it trains for D = C / 6N tokens, with a cosine learning rate
# that ends with the run (a schedule longer than the run would understate what small budgets can
# do: one of Chinchilla's corrections to Kaplan). It records each run's held-out loss in one JSON
# file. The one shipped with npgpt was made by the command in its `PROVENANCE.md`:

# %%
results = load_results()
print(results["command"], "--jobs 2")
print(
    f"{len(results['runs'])} runs ({len(results['skipped'])} pairs skipped: too few or too many tokens per "
    f"parameter), {results['cpu_seconds'] / 60:.1f} min of CPU on {results['machine']['processor']} "
    f"({results['machine']['cpu_count']} cores), numpy {results['versions']['numpy']}"
)
print(f"\n{'model':>6} {'N':>9} {'budget':>7} {'steps':>6} {'tokens/N':>9} {'val loss':>9}")
for r in sorted(results["runs"], key=lambda r: (r["budget"], r["params"])):
    print(
        f"{r['n_layer']}x{r['n_embd']:<4} {r['params']:>9,} {r['budget']:>7.0e} {r['steps']:>6} "
        f"{r['tokens_per_param']:>9.1f} {r['val_loss']:>9.4f}"
    )

# %% [markdown]
# The shipped numbers are only worth something if they reproduce. Here is one point trained again,
# now, with the settings stored in the file (a few seconds):

# %%
settings = {**results["settings"], "out_dir": tempfile.mkdtemp()}
point = min(results["runs"], key=lambda r: r["cpu_seconds"] if r["steps"] >= 100 else np.inf)
again = run_one(settings, point)  # what each worker process of the sweep runs
print(f"{point['id']}: shipped val loss {point['val_loss']:.6f}, trained again {again['val_loss']:.6f}")
# Same seed, same data: only the order of float32 sums can differ (another BLAS or thread count),
# which perturbs training a little; 0.01 nats is a tenth of the gap between neighbouring points below.
assert abs(again["val_loss"] - point["val_loss"]) < 0.01, "the shipped point does not reproduce"

# %% [markdown]
# ## 3. The laws
#
# **IsoFLOP curves** (Chinchilla's method 2). At a fixed budget, a small model sees many tokens
# but cannot hold much; a big one could, but sees few tokens. In between is a best size. Fitting a
# parabola to loss against log N at each budget finds it, with an error from the fit's covariance.
#
# **Predict, then run.** At a budget of 1e11 FLOPs, which of the sweep's models reaches the lowest
# loss: the 3k-parameter 1x16, the 25k-parameter 2x32, or the 200k-parameter 4x64? And at 3e11?

# %%
fits = fit_sweep(results)
for m in fits.minima:
    where = "interior" if m.interior else "at the edge of the grid"
    print(
        f"C = {m.budget:.0e}: N_opt = {m.n_opt:,.0f} (x/ {10**m.log10_n_opt_err:.2f}), loss {m.loss_min:.3f}, "
        f"D_opt = {m.tokens_opt:,.0f} tokens = {m.tokens_per_param:,.0f} per parameter ({where})"
    )
interior = [m for m in fits.minima if m.interior]
assert len(interior) >= 3, "fewer than three budgets have an interior IsoFLOP minimum"
plot_scaling_laws(results, fits)

# %% [markdown]
# Read the three panels from the left.
#
# - **IsoFLOP curves**: each budget's losses fall, then rise, as N grows: the stars are the
#   parabolas' minima. A bigger budget moves the best model to the right (bigger) and down.
# - **L(N)**: each size's best loss among its runs with plenty of data (at least 50 tokens per
#   parameter, so the size and not the data limits it) on log-log axes falls on a line: a power
#   law, L = (N_c / N)^alpha_N.
# - **N_opt(C)**: the compute-optimal size grows as a power of the budget. The dashed line is
#   Chinchilla's rule D = 20 N (with C = 6ND, N_opt = sqrt(C / 120)).

# %%
print(
    f"L(N): alpha_N = {fits.l_of_n.exponent:.3f} +- {fits.l_of_n.exponent_err:.3f} (least squares) "
    f"+- {fits.l_of_n_boot_err:.3f} (bootstrap); Kaplan et al.: 0.076"
)
if fits.l_of_c is not None:
    print(f"L(C): alpha_C = {fits.l_of_c.exponent:.3f} +- {fits.l_of_c.exponent_err:.3f}; Kaplan et al.: 0.050")
print(f"N_opt ~ C^a: a = {-fits.n_opt.exponent:.2f} +- {fits.n_opt.exponent_err:.2f}; Chinchilla: 0.50 (Kaplan: 0.73)")
tpp = [m.tokens_per_param for m in interior]
print(
    f"compute-optimal tokens per parameter here: {min(tpp):,.0f} to {max(tpp):,.0f}; Chinchilla: "
    f"{CHINCHILLA_TOKENS_PER_PARAM:.0f}"
)

# %% [markdown]
# Our exponents carry wide error bars (a handful of points, one seed) but have the papers' shape:
# loss falls as a small power of size, and the best size grows with the budget. Our optimum spends
# far more than 20 tokens per parameter. At this scale that is expected, not a contradiction: a
# model of a few thousand weights reading characters is limited by what it can hold, and the
# irreducible part of the loss (the entropy of the text itself) is a large share of what it
# measures; Chinchilla's 20 was measured from 70M to 16B parameters. What carries over is the
# method, and the lesson both papers teach: for a fixed budget there is a best size, and both a
# model too big for its data and one too small for its budget waste compute.
#
# ### Your turn: fit the exponent yourself
#
# Write `my_fit(n, loss)`, returning `(coef, exponent)` of the power law loss = coef * n^(-exponent)
# fitted by least squares, and run it on the sweep's L(N) points (`fits.envelope`). The check runs
# it on an exact law first, then compares it with a straight-line fit on the sweep's points.
#
# *Hint:* take logarithms of both sides. What is the slope of log loss against log n, and what sign
# does it have for a loss that falls?
#
# <details><summary>Answer</summary>
#
# ```python
# def my_fit(n, loss):
#     slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)  # log L = log coef - exponent log n
#     return float(np.exp(intercept)), float(-slope)
# ```
#
# </details>


# %%
def my_fit(n, loss):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)  # log L = log coef - exponent log n
    return float(np.exp(intercept)), float(-slope)


# %%
n_env, loss_env = fits.envelope
check_power_law_fit("my_fit", my_fit, n_env, loss_env)
print(f"alpha_N = {my_fit(n_env, loss_env)[1]:.4f}; npgpt.scaling.fit_power_law: {fits.l_of_n.exponent:.4f}")

# %% [markdown]
# ## 4. The size claims, answered by the laws
#
# Parameters are counted, not guessed (notebook 09): GPT-1 has about 117M, GPT-2 1.5B, GPT-3 175B.

# %%
print(f"GPT-1: {parameter_count(GPTConfig.preset('gpt1'), arch='gpt1') / 1e6:.1f}M parameters (not 11.7B)")
print(f"GPT-2: {parameter_count(GPTConfig.preset('gpt2-xl')) / 1e9:.2f}B parameters (not 1.5T)")
print(f"GPT-3: {parameter_count(gpt3) / 1e9:.1f}B parameters")

# %% [markdown]
# The laws also say what a size costs. Trained compute-optimally (D = 20 N, so C = 6ND = 120 N^2),
# the claimed sizes would put each model out of its time: an "11.7B GPT-1" in 2018 would have been
# bigger than the GPT-2 that followed it and would have cost a good share of GPT-3's run; a "1.5T
# GPT-2" in 2019 would have needed hundreds of times GPT-3's compute of 2020. (The last line says
# something else too: by Chinchilla's rule GPT-3 itself saw too few tokens for its size, about 1.7
# per parameter; Chinchilla's point was exactly that such models were too big for their data.)

# %%
for name, n_params in [
    ("GPT-1, 117M", 117e6),
    ("GPT-1 as claimed, 11.7B", 11.7e9),
    ("GPT-2, 1.5B", 1.5e9),
    ("GPT-2 as claimed, 1.5T", 1.5e12),
    ("GPT-3, 175B", 175e9),
]:
    c = 120 * n_params**2
    print(f"{name:24s} compute-optimal C = 120 N^2 = {c:8.2g} FLOPs = {c / C_gpt3:10.4g} x GPT-3's run")

# %% [markdown]
# And "ChatGPT is a bigger GPT-3"? The laws say size buys loss slowly. With our exponent, ten times
# the parameters lowers the loss by a factor 10^(-alpha_N); Kaplan's 0.076 gives 0.84, so a model
# ten times GPT-3's size would predict text a little better, not follow instructions. What turned a
# GPT-3.5 model into ChatGPT was tuning on demonstrations and human preferences (SFT and RLHF,
# notebook 15); InstructGPT's 1.3B tuned model was preferred by people to the 175B GPT-3.

# %%
print(f"10x the parameters: loss x {10**-fits.l_of_n.exponent:.3f} (ours), x {10**-0.076:.3f} (Kaplan)")

# %% [markdown]
# ## 5. In-context learning, born in an induction head
#
# GPT-3 became famous for learning from its prompt: show it a pattern and it continues it. Olsson
# et al. (2022) traced the simplest form of this to a pair of heads. The task that isolates it:
# sequences of random tokens whose second part repeats the first. The first part cannot be
# predicted (loss ln V at best); in the repeat, each token can be predicted only from the context:
# after token A, say what followed A last time. The repeat's length varies, so "look a fixed
# distance back" does not work: the model has to find the earlier A by its content.
#
# A two-layer attention-only model (no MLPs, one head a layer; `npgpt.induction.AttentionOnly`)
# learns it. **Predict, then run.** Will the repeated half's loss fall gradually during training,
# or stay flat and then fall at once?

# %%
t0 = time.process_time()
model, history = train_induction(steps=700, seed=0)
step = phase_change_step(history)
print(
    f"trained in {time.process_time() - t0:.0f} s of CPU; the repeated half's loss falls below half the first's at step {step}"
)
plot_phase_change(history)

# %% [markdown]
# Flat, then sudden: a **phase change**. For hundreds of steps the model predicts both halves
# equally badly (ln 32 = 3.47); then, within about 150 steps, the repeated half becomes
# predictable while the first half stays where it was. Nothing changed in the data or the learning
# rate: two heads that are useless apart started to work together.
#
# The attention maps of one sequence show them: layer 1's head looks one position back (a
# **previous-token head**: each position now knows its predecessor), and layer 2's head looks from
# each token of the repeat to the position *one past* that token's earlier occurrence (an
# **induction head**: it finds the earlier position whose predecessor matches the current token,
# and copies the token found there).

# %%
ids, n = repeated_tokens(np.random.default_rng(7), 64, 16, 32)
maps = model.attention_maps(ids)  # (L, B, H, T, T)
prev, ind = head_scores(maps, ids)
print(f"previous-token score: layer 1 {prev[0, 0]:.2f}, layer 2 {prev[1, 0]:.2f}")
print(f"induction score:      layer 1 {ind[0, 0]:.2f}, layer 2 {ind[1, 0]:.2f}")
k = int(np.argmax(n))
T_k = 2 * n[k]
plot_head_maps(
    [maps[0, k, 0, :T_k, :T_k], maps[1, k, 0, :T_k, :T_k]],
    [f"layer 1: previous-token head ({prev[0, 0]:.2f})", f"layer 2: induction head ({ind[1, 0]:.2f})"],
)

# %% [markdown]
# In layer 2's map the weight sits on a diagonal n - 1 positions below the main one: position i of
# the repeat (token A, first seen at i - n) attends to i - n + 1, the token that followed A.
#
# **Ablation.** Replace the induction head's output by its average (mean-ablation: the head stays,
# but carries nothing about the context). If the ability lives in this head, the repeated half
# should become as unpredictable as the first:

# %%
first, repeated = half_losses(model, ids, n)
with ablate(model, layer=1, head=0):
    first_ab, repeated_ab = half_losses(model, ids, n)
print(f"trained:            first half {first:.3f}, repeated half {repeated:.3f}")
print(f"induction head off: first half {first_ab:.3f}, repeated half {repeated_ab:.3f}")
assert abs(repeated_ab - first_ab) < 0.1 * first_ab, "ablating the induction head should remove the ability"

# %% [markdown]
# **The same diagnostic on our Shakespeare model** (4 layers, 4 heads, trained for 1000 steps in
# notebook 10's way). Two measurements: each head's scores on repeated random characters, and the
# **in-context loss drop** on real text: the loss at late positions (many characters of context)
# minus at early ones. A model that uses its context has a clearly negative drop.

# %%
gpt, tok = load_pretrained()
V, T = gpt.config.vocab_size, gpt.config.block_size
ids_r, n_r = repeated_tokens(np.random.default_rng(0), 16, T // 2, V, min_half=T // 2)
maps_r = np.stack([attention_weights(gpt, row) for row in ids_r], axis=1)  # (L, B, H, T, T)
prev_r, ind_r = head_scores(maps_r, ids_r)
print("induction score per head (rows: layers):\n", ind_r.round(2))
print("previous-token score per head:\n", prev_r.round(2))
print(f"uniform attention would score about {np.mean([1 / (i + 1) for i in range(T // 2, T)]):.2f}")

text = load_text(shakespeare_path())
val = np.array(tok.encode(text[int(len(text) * 0.9) :]))
starts = np.random.default_rng(1).integers(0, len(val) - T, 1024)
pl = position_losses(gpt, np.stack([val[s : s + T] for s in starts]))  # (windows, T - 1)
drop = in_context_loss_drop(pl.mean(0))
se = pl.mean(1).std() / math.sqrt(len(pl)) * math.sqrt(2)  # a rough standard error of the difference
print(f"in-context loss drop (positions {T - 11}..{T - 2} minus 5..14): {drop:+.3f} nats (+- about {se:.3f})")

# %% [markdown]
# Our Shakespeare model has no induction head: every head scores near what uniform attention
# would, and on repeated random characters it predicts the repeat no better than the first half.
# Its in-context loss drop past the first few characters is about zero: once it knows a word or
# two of context, more context does not help it. That is where Olsson et al. place the phase change
# too: induction heads form after a model has seen enough data (billions of tokens for their
# models); ours saw about a million characters. Train it longer, or bigger, and the diagnostic
# above is how you would see the heads arrive.

# %%
print(f"notebook CPU time: {time.process_time() - t_start:.0f} s")

# %% [markdown]
# ## Check yourself
#
# 1. A model with 10M non-embedding parameters is trained on 200M tokens. About how many FLOPs is
#    that, and how many tokens would Chinchilla's rule give it?
#
# <details><summary>Hint</summary>
#
# C = 6ND = 6 x 1e7 x 2e8 = 1.2e16 FLOPs. Chinchilla: D = 20 N = 2e8 tokens: this run is
# compute-optimal by that rule.
#
# </details>
#
# 2. Why must each run of a sweep end its cosine schedule at its own last step?
#
# <details><summary>Hint</summary>
#
# A run stopped partway down a longer schedule has not had its learning rate decayed, so its loss
# is higher than a run of that length could reach; the short (small-budget) runs would look worse
# than they are, and the optimum would shift toward bigger models. Kaplan et al. read intermediate
# points of long runs; Hoffmann et al. showed this biases the compute-optimal size.
#
# </details>
#
# 3. At one budget, the IsoFLOP parabola has its vertex beyond the biggest model of the grid. What
#    can you conclude, and what would you run next?
#
# <details><summary>Hint</summary>
#
# Only that the optimum is at least that big: the minimum is not interior, so it is not measured.
# Add bigger models at that budget until the loss turns up again.
#
# </details>
#
# 4. What does an induction head attend to, and why does it need a previous-token head in an
#    earlier layer?
#
# <details><summary>Hint</summary>
#
# From the current token A it attends to the position just after an earlier A, and copies that
# position's token. To find "the position whose predecessor is A" by its key, that position must
# already carry its predecessor's identity, which the previous-token head wrote into it.
#
# </details>
#
# 5. Ablating the induction head raised the repeated half's loss to the first half's. Why is
#    mean-ablation a fairer test than setting the head's output to zero?
#
# <details><summary>Hint</summary>
#
# Zero is a value the head never outputs: the next layers see an unusual input, and every position
# suffers, the first half too. The mean keeps the average the rest of the model expects and
# removes only what the head says about this particular context.
#
# </details>

# %% [markdown]
# ## Papers
#
# - Kaplan et al., 2020, *Scaling Laws for Neural Language Models*: loss as a power law in
#   non-embedding parameters, data and compute; C = 6ND (their section 2.1).
#   <https://arxiv.org/abs/2001.08361>
# - Hoffmann et al., 2022, *Training Compute-Optimal Large Language Models* (Chinchilla): IsoFLOP
#   curves (approach 2), about 20 tokens per parameter; Chinchilla, 70B on 1.4T tokens, beat the
#   280B Gopher at the same compute. <https://arxiv.org/abs/2203.15556>
# - Olsson et al., 2022, *In-context Learning and Induction Heads*: the phase change, previous-token
#   and induction heads, the in-context loss drop.
#   <https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html>
# - Elhage et al., 2021, *A Mathematical Framework for Transformer Circuits*: the two-layer
#   attention-only model and how its heads compose. <https://transformer-circuits.pub/2021/framework/index.html>
