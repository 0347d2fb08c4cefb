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
# # 05 · A first language model
#
# Notebooks 00-04 built the machinery: arrays, autograd, gradient checks, and cross-entropy. This one
# uses it to build and train a **language model** on real text, the Shakespeare corpus shipped with
# npgpt. The simplest one there is, the **bigram** model, predicts the next character from the
# current one alone. We build it twice:
#
# 1. by **counting**: a $V \times V$ table of how often each character follows each other one,
#    normalised into probabilities (with smoothing);
# 2. by **gradient descent**: a $V \times V$ table of logits, trained with npgpt's autograd and
#    `F.cross_entropy`, and we watch it converge to the counted table.
#
# The two agree because of one fact, derived in section 3: **cross-entropy is maximum likelihood**,
# and counting is the maximum-likelihood answer. The bigram's loss on held-out text is the number
# every later model in the course must beat.
#
# Then the **training loop** every later notebook uses: batches, SGD against AdamW measured side by
# side on a small neural model that looks at three characters, a warmup + cosine learning-rate
# schedule, and gradient clipping.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt import viz
from npgpt.data import load_text, shakespeare_path
from npgpt.optim import SGD, AdamW, CosineWarmup, clip_grad_norm_, set_lr

np.set_printoptions(precision=4, suppress=True)
T_START = time.perf_counter()

# %% [markdown]
# ## 1. Characters to ids, and a held-out split
#
# A character-level model needs a vocabulary: the distinct characters of the text, in sorted order,
# each with an id. The first 90% of the text is for training; the last 10% (other plays) is
# **held out**: no model ever trains on it, so its loss there says how well it predicts text it has
# not seen. (The same split as `npgpt train` and notebook 10.)

# %%
text = load_text(shakespeare_path())
chars = sorted(set(text))
V = len(chars)
stoi = {c: i for i, c in enumerate(chars)}
ids = np.array([stoi[c] for c in text], dtype=np.int64)
n_train = int(len(ids) * 0.9)
train, val = ids[:n_train], ids[n_train:]
print(f"{len(text):,} characters, V = {V} distinct: {''.join(chars)!r}")
print(f"train {len(train):,} ids, val {len(val):,} ids")
print("the first 12 ids:", ids[:12], "=", repr(text[:12]))

# %% [markdown]
# ## 2. The bigram model, by counting
#
# A bigram model says: the next character depends only on the current one,
# $$p(x_{t+1} \mid x_0, \dots, x_t) = P[x_t, x_{t+1}],$$
# a $V \times V$ table whose row $a$ is a probability distribution over what follows $a$. The obvious
# estimate: count. $N_{ab}$ = how many times $b$ follows $a$ in the training text, and
# $P_{ab} = N_{ab} / \sum_{b'} N_{ab'}$.
#
# The counts of every pair in one line: a pair $(a, b)$ is the single number $aV + b$, and
# `np.bincount` counts those.

# %%
N = np.bincount(train[:-1] * V + train[1:], minlength=V * V).reshape(V, V).astype(np.float64)
N_val = np.bincount(val[:-1] * V + val[1:], minlength=V * V).reshape(V, V).astype(np.float64)
print(f"{int(N.sum()):,} training pairs; {int((N == 0).sum()):,} of the {V * V:,} possible pairs never occur")
for a in ["q", "T", "."]:
    row = N[stoi[a]]
    top = np.argsort(row)[::-1][:4]
    print(f"after {a!r}: " + ", ".join(f"{chars[b]!r} {int(row[b])}" for b in top))

# %%
show = [stoi[c] for c in " \neothasinrdlu.,'TAEIO"]  # the commonest characters, a readable corner
fig, ax = plt.subplots(figsize=(7.5, 6.5))
im = ax.imshow(np.log1p(N[np.ix_(show, show)]), cmap="Blues")
labels = [repr(chars[i])[1:-1] for i in show]
ax.set_xticks(range(len(show)), labels)
ax.set_yticks(range(len(show)), labels)
ax.set_xlabel("next character b")
ax.set_ylabel("current character a")
ax.set_title("bigram counts N[a, b] (log scale), the 22 commonest characters")
fig.colorbar(im, ax=ax, label="log(1 + count)")
plt.show()

# %% [markdown]
# **Smoothing.** 4,000-odd pairs never occur in the training text, so their counted probability is 0.
# If one of them occurs in the held-out text, the model gives that text probability 0 and its loss is
# infinite. **Add-$\alpha$ smoothing** pretends every pair was seen $\alpha$ more times:
# $$P_{ab} = \frac{N_{ab} + \alpha}{\sum_{b'} (N_{ab'} + \alpha)} = \frac{N_{ab} + \alpha}{N_a + \alpha V}.$$
# $\alpha = 1$ is Laplace's rule. It costs a little on the training text and saves the held-out one.
#
# ### Your turn: the counted bigram probabilities
#
# Write `my_bigram_probs(a, b, V, alpha)`: given the current ids `a` and next ids `b` (two equal-length
# integer arrays) return the $V \times V$ table $P$ with add-`alpha` smoothing, each row a distribution
# over the next character. The next cell compares it with a table computed another way.
#
# *Hint:* count into a `(V, V)` array of zeros (`np.add.at(counts, (a, b), 1)` adds 1 at every pair,
# repeats included), add `alpha` everywhere, then divide each **row** by its sum.
#
# <details><summary>Answer</summary>
#
# ```python
# def my_bigram_probs(a, b, V, alpha):
#     counts = np.zeros((V, V))
#     np.add.at(counts, (a, b), 1)
#     counts = counts + alpha
#     return counts / counts.sum(axis=1, keepdims=True)
# ```
#
# </details>


# %%
def my_bigram_probs(a, b, V, alpha):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    counts = np.zeros((V, V))
    np.add.at(counts, (a, b), 1)
    counts = counts + alpha
    return counts / counts.sum(axis=1, keepdims=True)


# %%
from npgpt.exercises import check_array

with np.errstate(divide="raise", invalid="raise"):  # a 0/0 for a row never seen stops here
    P = my_bigram_probs(train[:-1], train[1:], V, alpha=1.0)
check_array(
    "my_bigram_probs",
    P,
    (N + 1.0) / (N + 1.0).sum(axis=1, keepdims=True),
    atol=1e-12,
    hint="count every (a, b) pair, add alpha to every cell, then make each ROW (axis=1) sum to 1",
)


# %% [markdown]
# ## 3. Cross-entropy is maximum likelihood
#
# How good is a table $P$? A model assigns the training text $x_0 x_1 \dots x_n$ a probability, its
# **likelihood**: by the chain rule of probability, and the bigram's assumption,
# $$\mathcal{L}(P) = \prod_{t=0}^{n-1} P[x_t, x_{t+1}].$$
# The best model is the one that makes the text most likely. A product of a million numbers below 1
# underflows to 0, and $\log$ is increasing, so maximise the log instead; turn it into a loss to
# *minimise* by the minus sign, and divide by $n$ so that texts of any length compare:
# $$L(P) = -\frac{1}{n}\sum_{t=0}^{n-1} \log P[x_t, x_{t+1}] = -\sum_{a, b} \frac{N_{ab}}{n} \log P_{ab}.$$
# That is the **negative log-likelihood per character**, and it is exactly the mean cross-entropy of
# notebook 04, $-\log \mathrm{softmax}(z)_t$ averaged over positions, when the model's probabilities come
# from logits. Minimising cross-entropy = maximising the likelihood of the data.
#
# **Counting is the maximum.** Maximise $\sum_b N_{ab} \log P_{ab}$ for one row under
# $\sum_b P_{ab} = 1$ with a Lagrange multiplier $\lambda$: the derivative in $P_{ab}$ is
# $N_{ab}/P_{ab} - \lambda = 0$, so $P_{ab} \propto N_{ab}$, that is $P_{ab} = N_{ab}/N_a$, the
# unsmoothed counted table $P^\ast$. More precisely, for any other table $Q$,
# $$L(Q) - L(P^\ast) = \sum_a \pi_a \sum_b P^\ast_{ab} \log \frac{P^\ast_{ab}}{Q_{ab}}
# = \sum_a \pi_a\, \mathrm{KL}(P^\ast_a \,\|\, Q_a) \;\ge\; 0, \qquad \pi_a = \frac{N_a}{n},$$
# (substitute $N_{ab} = n\,\pi_a P^\ast_{ab}$ in $L$), and the Kullback-Leibler divergence is $\ge 0$,
# zero only for $Q_a = P^\ast_a$ (Gibbs' inequality). No bigram table can score below $L(P^\ast)$ on the
# training text; section 4 uses this identity to measure how close gradient descent gets.
#
# **The uniform model.** A model that knows nothing gives every character $1/V$, and its loss is
# $-\log(1/V) = \log V$, whatever the text: $\log 76 \approx 4.33$ nats for this corpus. This is the loss
# a freshly initialised model should start near, in this notebook and every later one; a first loss
# far above $\log V$ means the initial logits are too large and confidently wrong.
#
# **Units.** With the natural log the loss is in *nats* per character; divided by $\ln 2$ it is in
# *bits* per character, the average number of yes/no questions a perfect code built on the model
# needs per character (Shannon). $e^{L}$, the **perplexity**, is the number of equally likely
# characters the model is as unsure as.


# %%
def nll(P, counts):
    """Mean negative log-likelihood of the pairs counted in `counts` (V, V) under the table P (V, V)."""
    with np.errstate(divide="ignore"):  # log 0 = -inf, where a pair the table calls impossible occurs
        logp = np.where(counts > 0, np.log(P), 0.0)  # 0 * log 0 counts as 0
    return -(counts * logp).sum() / counts.sum()


P_star = N / N.sum(axis=1, keepdims=True)  # unsmoothed: the maximum-likelihood table
uniform = np.full((V, V), 1.0 / V)
print(f"{'model':28s} {'train':>8s} {'val':>8s}   (nats per character)")
print(f"{'uniform, 1/V':28s} {nll(uniform, N):8.4f} {nll(uniform, N_val):8.4f}   log V = {np.log(V):.4f}")
for alpha in [0.0, 0.1, 1.0, 10.0]:
    P_a = (N + alpha) / (N + alpha).sum(axis=1, keepdims=True)
    print(f"{f'counted, alpha = {alpha:g}':28s} {nll(P_a, N):8.4f} {nll(P_a, N_val):8.4f}")
assert np.isclose(nll(uniform, N_val), np.log(V)), "the uniform model scores log V on any text"

# %% [markdown]
# Without smoothing the held-out loss is infinite: some pair of the last plays never occurs in the
# first 90%. With it the held-out loss is finite, and the choice of $\alpha$ between 0.1 and 10 moves it
# by less than 0.02. The training loss is lowest at $\alpha = 0$, as the derivation says it must be.
#
# **The number to beat.** The counted bigram with $\alpha = 1$ scores about **2.60 nats per character on
# the held-out text** (3.75 bits; perplexity 13.5, down from 76). Every later model in the course that
# looks at more than one character must score below it, or it has learnt nothing a table of counts
# did not; the capstone assignment `a10_capstone` asks for a validation loss below 2.60.

# %%
bigram_val = nll(P, N_val)
print(
    f"the counted bigram (alpha = 1), held out: {bigram_val:.4f} nats = {bigram_val / np.log(2):.3f} bits per "
    f"character, perplexity {np.exp(bigram_val):.1f}"
)
assert 2.55 < bigram_val < 2.65, "the text above says the held-out bigram loss is about 2.60"

# %% [markdown]
# **Sampling.** A language model is also a generator: start from a character, draw the next from its
# row of $P$, repeat. The bigram knows which letters follow which, where spaces and capitals go, and
# nothing else, so it writes word-shaped nonsense.


# %%
def sample_bigram(P, start="\n", n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = [stoi[start]]
    for _ in range(n):
        out.append(rng.choice(V, p=P[out[-1]]))
    return "".join(chars[i] for i in out)


print(sample_bigram(P))

# %% [markdown]
# ## 4. The same model, by gradient descent
#
# Now forget the counts. Let the model be a $V \times V$ table of **logits** $W$, row $a$ the scores of
# what follows $a$; its probabilities are $Q_a = \mathrm{softmax}(W_a)$. For a batch of current
# characters `x` and next characters `y`, the logits are the rows `W[x]` (notebook 03's
# `F.embedding`), and the loss is `F.cross_entropy(W[x], y)`, the mean negative log-likelihood of
# section 3. Gradient descent: backward, then $W \leftarrow W - \eta\, \nabla_W L$.
#
# Each step uses a **batch** of 1,024 random positions, not the whole text: its gradient is an unbiased
# estimate of the full one (the mean of random terms of the full mean) at a thousandth of the cost.
#
# $W = 0$ at the start: every row uniform, loss $\log V$. By section 3, the training loss can only
# come down towards $L(P^\ast)$, never below it, and the gap is the weighted KL divergence between the
# counted rows and the trained ones. We track it every 25 steps, from the exact counts.
#
# **Predict, then run.** Where will the trained table's probabilities end up, compared with the
# counted table $P^\ast$? Which rows will be the furthest from it after 500 steps, and why?


# %%
def softmax_rows(W):
    e = np.exp(W - W.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


pi = N.sum(axis=1) / N.sum()  # how often each character is the current one
L_star = nll(P_star, N)
W = npgpt.tensor(np.zeros((V, V)), requires_grad=True)
batch_rng = np.random.default_rng(0)
lr, steps, batch = 50.0, 500, 1024
gd_steps, gd_gap, gd_loss = [], [], []
t0 = time.perf_counter()
for step in range(steps + 1):
    if step % 25 == 0:
        gd_steps.append(step)
        gd_gap.append(nll(softmax_rows(W.numpy()), N) - L_star)
    if step == steps:
        break
    i = batch_rng.integers(0, len(train) - 1, batch)
    loss = F.cross_entropy(F.embedding(train[i], W), train[i + 1])
    W.grad = None
    loss.backward()
    W.data -= lr * W.grad  # plain gradient descent, by hand
    gd_loss.append(loss.item())
print(f"{steps} steps in {time.perf_counter() - t0:.1f} s; first batch loss {gd_loss[0]:.4f} (log V = {np.log(V):.4f})")
Q = softmax_rows(W.numpy())

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].plot(gd_loss, lw=0.6, alpha=0.6, label="batch loss")
axes[0].axhline(L_star, color="red", ls="--", label=f"counted table, L(P*) = {L_star:.3f}")
axes[0].axhline(np.log(V), color="gray", ls=":", label="uniform, log V")
axes[0].set_xlabel("step")
axes[0].set_ylabel("cross-entropy (nats per character)")
axes[0].legend()
axes[0].set_title("gradient descent on a V x V logit table")
axes[1].semilogy(gd_steps, gd_gap, "o-", ms=3)
axes[1].set_xlabel("step")
axes[1].set_ylabel("L(Q) - L(P*), full training text")
axes[1].set_title("the gap to the counted table (exact, from the counts)")
plt.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(5, 5))
common = pi > 1e-2
ax.loglog(P_star[common].ravel(), Q[common].ravel(), ".", ms=3, label="rows of common characters")
ax.loglog(P_star[~common].ravel(), Q[~common].ravel(), ".", ms=3, alpha=0.5, label="rows of rare ones")
ax.plot([1e-6, 1], [1e-6, 1], color="gray", lw=0.8)
ax.set_xlim(1e-6, 1)
ax.set_ylim(1e-6, 1)
ax.set_xlabel("counted P*[a, b]")
ax.set_ylabel("trained softmax(W)[a, b]")
ax.set_title("trained against counted, every entry")
ax.legend()
plt.show()

# %% [markdown]
# The trained probabilities line up along the diagonal: gradient descent on cross-entropy finds the
# counted table, as the derivation says it must. The rows of common characters are close; the rows of
# rare ones lag behind, because the gradient of row $a$ of the full loss is $\pi_a (Q_a - P^\ast_a)$:
# a character that is 0.01% of the text gets a gradient a hundred times smaller than one that is 1%,
# and moves that much more slowly. (Section 5's Adam fixes exactly that.) Entries counted 0 are not 0 in $Q$: a softmax never
# gives exactly 0, so the trained table is smoothed too, by stopping early.
#
# **How close, to a derived bound.** The gap $L(Q) - L(P^\ast)$ is the identity of section 3, so it must
# equal $\sum_a \pi_a \mathrm{KL}(P^\ast_a \| Q_a)$ up to float64 rounding: both sides are sums of
# $V^2 = 5{,}776$ terms of size at most $\max |\log Q|$ (printed below: under 20), each rounded to a relative
# $2^{-53} \approx 1.1 \times 10^{-16}$, so they differ by at most about
# $5776 \cdot 20 \cdot 1.1 \times 10^{-16} \approx 10^{-11}$. It must be $\ge 0$ (Gibbs). And since
# $\log(1+u) \le u$, $\mathrm{KL}(p\|q) = \sum_b p_b \log(p_b/q_b) \le \log \sum_b p_b^2/q_b
# = \log(1 + \chi^2(p\|q))$ with $\chi^2(p\|q) = \sum_b (p_b - q_b)^2/q_b$: the two losses agree to
# within the weighted $\chi^2$ distance between the tables, a bound read off the tables themselves.

# %%
with np.errstate(divide="ignore", invalid="ignore"):
    kl_rows = np.where(P_star > 0, P_star * np.log(P_star / Q), 0.0).sum(axis=1)
chi2_rows = ((P_star - Q) ** 2 / Q).sum(axis=1)
gap = nll(Q, N) - L_star
bound = (pi * np.log1p(chi2_rows)).sum()
print(f"train loss: counted P* {L_star:.4f}, trained Q {nll(Q, N):.4f}; gap {gap:.5f}")
print(f"sum_a pi_a KL(P*_a || Q_a) = {(pi * kl_rows).sum():.5f}   (|difference| {abs(gap - (pi * kl_rows).sum()):.1e})")
print(f"bound sum_a pi_a log(1 + chi2_a) = {bound:.5f}; max |log Q| = {-np.log(Q.min()):.1f}")
print(f"held out: counted (alpha = 1) {bigram_val:.4f}, trained {nll(Q, N_val):.4f}")
assert abs(gap - (pi * kl_rows).sum()) < 1e-9, "the gap should be the weighted KL divergence (section 3's identity)"
assert 0 <= gap <= bound, (
    "Gibbs: no table beats the counted one on the training text, and the gap is at most the chi2 bound"
)
assert gd_gap[-1] < gd_gap[0] / 20, "gradient descent should close most of the gap to the counted table"

# %% [markdown]
# ## 5. The training loop, and the optimizer
#
# The bigram sees one character. A model that looks at the last **three** is much stronger, but a
# table of $76^3$ rows of counts would be mostly empty. Bengio et al. (2003) made the table smooth
# instead: embed each character as a vector (16 numbers), concatenate the three, one hidden layer,
# logits. It has 9,300 parameters instead of $76^4 \approx 33$ million counts, and no counting
# formula: it can only be trained by gradient descent. Here it is, with notebook 03's
# `F.embedding` and `F.linear`, and the output layer initialised small so that its first loss is
# near $\log V$ (section 3).

# %%
K, D, H = 3, 16, 64  # context characters, embedding width, hidden width


def init_mlp(seed=0):
    r = np.random.default_rng(seed)
    arrays = [
        r.standard_normal((V, D)),  # C: one row per character
        r.standard_normal((H, K * D)) / np.sqrt(K * D),  # W1 (out, in), unit-variance pre-activations
        np.zeros(H),
        0.1 * r.standard_normal((V, H)) / np.sqrt(H),  # W2: small, so the first loss is near log V
        np.zeros(V),
    ]
    return [npgpt.tensor(a, requires_grad=True) for a in arrays]


def mlp(params, x):
    """Logits (B, V) of the next character after the K ids of each row of x (B, K)."""
    C, W1, b1, W2, b2 = params
    e = F.embedding(x, C).reshape(x.shape[0], K * D)  # (B, K, D) -> (B, K * D)
    return F.linear(F.linear(e, W1, b1).tanh(), W2, b2)


def get_batch(data, size, rng):
    """`size` random windows: x (size, K) the context, y (size,) the character after it."""
    i = rng.integers(0, len(data) - K, size)
    return np.stack([data[i + j] for j in range(K)], axis=1), data[i + K]


x_val, y_val = get_batch(val, 8000, np.random.default_rng(123))  # a fixed held-out set


def val_loss(params):
    with npgpt.no_grad():
        return F.cross_entropy(mlp(params, x_val), y_val).item()


print(f"{sum(p.numpy().size for p in init_mlp()):,} parameters; loss at initialisation {val_loss(init_mlp()):.4f}")

# %% [markdown]
# **One step** of training, the loop every later notebook runs (the picture below; its boxes name
# the GPT's versions of each line, notebook 10):
#
# 1. draw a batch of random windows; 2. set the learning rate from the schedule; 3. forward to the
# loss; 4. zero the old gradients and backward; 5. clip the gradient; 6. the optimizer's step.

# %%
viz.draw_training_loop()

# %% [markdown]
# **The optimizers.** `npgpt.optim.SGD` is section 4's update, $\theta \leftarrow \theta - \eta g$
# (with optional momentum). Its trouble is the one section 4 showed: every coordinate moves in
# proportion to its own gradient, so parameters with small gradients (rare characters' embeddings)
# barely move, and a learning rate large enough for them is too large for the rest.
#
# **Adam** keeps, for every parameter, running averages of its gradient $g$ and of $g^2$ and steps by
# their ratio, so every coordinate moves by about $\eta$ whatever the scale of its gradient. At step
# $t = 1, 2, \dots$ (`npgpt/optim/adamw.py`, the same numbers as `torch.optim.AdamW`):
# $$m \leftarrow \beta_1 m + (1-\beta_1)\, g, \qquad v \leftarrow \beta_2 v + (1-\beta_2)\, g^2,$$
# $$\theta \leftarrow \theta - \eta\,\lambda\,\theta, \qquad
# \theta \leftarrow \theta - \eta\, \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon}.$$
# The divisions by $1 - \beta^t$ undo the bias of $m$ and $v$ towards their initial zeros.
# **AdamW** is Adam with **decoupled weight decay** $\lambda$: the shrink
# $\theta \leftarrow (1 - \eta\lambda)\theta$ is applied directly, outside $m$ and $v$, instead of being
# added to the gradient (where Adam's division would undo it for the weights with large gradients).
# Which parameters to decay is a question for the GPT (notebook 10); here $\lambda = 0$, so the
# comparison is SGD against Adam's update alone.
#
# A fair comparison gives each optimizer its best learning rate: below, three learning rates each,
# 400 steps of batch 128, the same initial weights and the same batches for all six runs.
#
# **Predict, then run.** Which reaches the lower held-out loss in 400 steps, SGD at its best learning
# rate or AdamW at its best? And what is the ratio of their best learning rates, roughly?


# %%
def train_mlp(opt_class, lr, steps, schedule=None, clip=None, seed=1, **opt_kw):
    """Train a fresh MLP (same init); return its params and per-step losses and gradient norms."""
    params = init_mlp()
    opt = opt_class(params, lr=lr, **opt_kw)
    rng, losses, norms = np.random.default_rng(seed), [], []
    for step in range(steps):
        if schedule is not None:
            set_lr(opt, schedule(step))
        x, y = get_batch(train, 128, rng)
        loss = F.cross_entropy(mlp(params, x), y)
        opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(params, clip if clip is not None else np.inf)  # returns the norm before clipping
        opt.step()
        losses.append(loss.item())
        norms.append(norm)
    return params, np.array(losses), np.array(norms)


t0 = time.perf_counter()
sweep = {"SGD": [0.3, 1.0, 3.0], "AdamW": [3e-3, 1e-2, 3e-2]}
results = {}
for name, lrs in sweep.items():
    opt_class, kw = (SGD, {}) if name == "SGD" else (AdamW, {"weight_decay": 0.0})
    for lr in lrs:
        params, losses, _ = train_mlp(opt_class, lr, 400, **kw)
        results[name, lr] = (val_loss(params), losses)
        print(f"{name:5s} lr {lr:<6g} held-out loss {results[name, lr][0]:.4f}")
print(f"6 runs in {time.perf_counter() - t0:.1f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, color in [("SGD", "#1f77b4"), ("AdamW", "#ff7f0e")]:
    lrs = sweep[name]
    axes[0].plot(lrs, [results[name, lr][0] for lr in lrs], "o-", color=color, label=name)
    best = min(lrs, key=lambda lr: results[name, lr][0])
    smooth = np.convolve(results[name, best][1], np.ones(20) / 20, mode="valid")
    axes[1].plot(smooth, color=color, label=f"{name}, lr {best:g} (its best)")
for ax in axes:
    ax.axhline(bigram_val, color="red", ls="--", label="counted bigram, held out")
axes[0].set_xscale("log")
axes[0].set_xlabel("learning rate")
axes[0].set_ylabel("held-out loss after 400 steps")
axes[0].set_title("each optimizer at three learning rates")
axes[1].set_xlabel("step")
axes[1].set_ylabel("batch loss (mean of 20 steps)")
axes[1].set_title("the best run of each")
axes[0].legend()
axes[1].legend()
plt.tight_layout()
plt.show()
best_sgd = min(results[k][0] for k in results if k[0] == "SGD")
best_adam = min(results[k][0] for k in results if k[0] == "AdamW")
print(f"best held-out loss: SGD {best_sgd:.4f}, AdamW {best_adam:.4f}")

# %% [markdown]
# AdamW wins, at a learning rate about a hundred times smaller: its step is about $\eta$ per
# coordinate, SGD's is $\eta$ times a gradient that is mostly far below 1. The learning-rate curves
# are U-shaped: too small and the loss falls slowly, too large and it bounces. This is why every GPT
# in the course, and nearly every large model, trains with AdamW.
#
# ## 6. Learning rate: linear warmup, then cosine decay
#
# `CosineWarmup(max_lr, warmup_steps, max_steps, min_lr)` gives the learning rate of step $s$:
# $$\eta(s) = \begin{cases}
# \eta_{\max}\,\dfrac{s+1}{s_w} & s < s_w \quad\text{(warmup)}\\[2mm]
# \eta_{\min} + \tfrac12\left(1 + \cos\!\left(\pi\,\dfrac{s - s_w}{s_{\max} - s_w}\right)\right)(\eta_{\max} - \eta_{\min}) & s_w \le s \le s_{\max}
# \end{cases}$$
# and `set_lr(opt, lr)` puts it into the optimizer before each step.
#
# *Warmup*: at the start the weights are random and Adam's $v$ has seen only a few gradients, so a full
# step can be far too large in some coordinates; a linear ramp keeps the first updates small.
# *Cosine decay*: large steps early make fast progress, small steps late let the weights settle instead
# of bouncing around the noise of random batches.
#
# ## 7. Gradient clipping by the global norm
#
# Now and then a batch produces a gradient much larger than usual, and one big step can undo many small
# ones. `clip_grad_norm_(params, c)` measures the norm of *all* gradients together,
# $n = \sqrt{\sum_p \lVert g_p \rVert^2}$, and, if $n > c$, multiplies every gradient by the same factor
# $c / (n + \epsilon)$. One common factor keeps the direction of the update and only shortens it
# (clipping each entry separately would turn it). It returns $n$ before clipping, a number worth
# logging.

# %%
g1 = npgpt.tensor(np.zeros(2), requires_grad=True)
g2 = npgpt.tensor(np.zeros(1), requires_grad=True)
g1.grad, g2.grad = np.array([3.0, 0.0]), np.array([4.0])
norm = clip_grad_norm_([g1, g2], max_norm=1.0)
after = np.concatenate([g1.grad, g2.grad])
print(f"global norm before {norm}, after {np.linalg.norm(after):.6f}; gradient (3, 0, 4) became {after}")
assert np.isclose(norm, 5.0) and np.isclose(np.linalg.norm(after), 1.0, atol=1e-6), "clipped to norm 1"
assert np.allclose(after * 5.0, [3.0, 0.0, 4.0], atol=1e-5), "clipping keeps the direction"

# %% [markdown]
# Now the full recipe on the same model: AdamW at the best learning rate of the sweep as the peak,
# 40 warmup steps, cosine decay to a tenth over 1,200 steps, clipping at 1.0; and, beside it, the same
# 1,200 steps of AdamW at a constant learning rate.

# %%
peak = min(sweep["AdamW"], key=lambda lr: results["AdamW", lr][0])
schedule = CosineWarmup(peak, 40, 1200, peak / 10)
t0 = time.perf_counter()
flat_params, flat_losses, flat_norms = train_mlp(AdamW, peak, 1200, weight_decay=0.0)
full_params, full_losses, full_norms = train_mlp(AdamW, peak, 1200, schedule=schedule, clip=1.0, weight_decay=0.0)
flat_val, full_val = val_loss(flat_params), val_loss(full_params)
print(f"2 runs in {time.perf_counter() - t0:.1f} s")
print(f"held out after 1,200 steps: constant lr {flat_val:.4f}, warmup + cosine + clipping {full_val:.4f}")
for lo, hi in [(0, 40), (40, 400), (400, 1200)]:
    part = full_norms[lo:hi]
    print(
        f"steps {lo:4d}-{hi - 1:4d}: median gradient norm {np.median(part):.2f}, clipped in {np.mean(part > 1.0):.0%}"
    )

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
steps_axis = np.arange(1200)
axes[0].plot(steps_axis, [schedule(int(s)) for s in steps_axis], label="warmup + cosine")
axes[0].axhline(peak, color="gray", ls=":", label="constant")
axes[0].axvline(schedule.warmup_steps, color="gray", lw=0.8)
axes[0].set_xlabel("step")
axes[0].set_ylabel("learning rate")
axes[0].set_title(f"CosineWarmup({peak:g}, 40, 1200, {peak / 10:g})")
axes[0].legend()
axes[1].semilogy(full_norms, lw=0.6, label="global gradient norm, before clipping")
axes[1].axhline(1.0, color="red", ls=":", label="clip at 1.0")
axes[1].set_xlabel("step")
axes[1].set_title(f"clipped in {np.mean(full_norms > 1.0):.0%} of the steps")
axes[1].legend()
for losses, label in [(flat_losses, "constant lr"), (full_losses, "warmup + cosine + clipping")]:
    axes[2].plot(np.convolve(losses, np.ones(50) / 50, mode="valid"), label=label)
axes[2].axhline(bigram_val, color="red", ls="--", label="counted bigram, held out")
axes[2].set_xlabel("step")
axes[2].set_ylabel("batch loss (mean of 50 steps)")
axes[2].set_title("the same AdamW, with and without the schedule")
axes[2].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The schedule is what helps here: the same peak learning rate, but the cosine's small late steps let
# the loss settle below the bouncing of the constant rate. Clipping at 1.0 almost never fires on this
# small model (the lines printed above: its gradient norm stays near 0.65 throughout). That is its
# normal life: it is insurance against the rare batch whose gradient is far above the recent ones,
# and it costs nothing when it does not act. Three characters of context, learnt by gradient descent,
# beat the counted bigram. What it writes:


# %%
def sample_mlp(params, start="\nTh", n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = [stoi[c] for c in start]
    with npgpt.no_grad():
        for _ in range(n):
            logits = mlp(params, np.array([out[-K:]])).numpy()[0]
            p = np.exp(logits - logits.max())
            out.append(rng.choice(V, p=p / p.sum()))
    return "".join(chars[i] for i in out)


print(sample_mlp(full_params))

# %% [markdown]
# ## The measured result

# %%
print(f"held-out loss, nats per character (uniform: log V = {np.log(V):.4f})")
print(f"  counted bigram (alpha = 1)                {bigram_val:.4f}   <- the number every later model must beat")
print(f"  bigram by gradient descent, 500 steps     {nll(Q, N_val):.4f}")
print(f"  3-character MLP, SGD at its best lr       {best_sgd:.4f}   (400 steps)")
print(f"  3-character MLP, AdamW at its best lr     {best_adam:.4f}   (400 steps)")
print(f"  3-character MLP, AdamW + warmup + cosine  {full_val:.4f}   (1,200 steps)")
print(f"notebook compute: {time.perf_counter() - T_START:.0f} s")
assert best_adam < best_sgd, "AdamW at its best learning rate should beat SGD at its best, at the same 400 steps"
assert full_val < bigram_val - 0.1, "three characters of context should beat the counted bigram on held-out text"
assert full_val < flat_val, "the schedule's small late steps should settle lower than a constant learning rate"

# %% [markdown]
# ## Check yourself
#
# 1. The held-out loss of the unsmoothed counted bigram is infinite. Which single pair of characters
#    is enough to make it so, and how would you find the pairs that do it?
#
# <details><summary>Hint</summary>
#
# Any pair with `N_val[a, b] > 0` and `N[a, b] == 0`: `np.argwhere((N_val > 0) & (N == 0))`. One such
# pair gets probability 0, its log is $-\infty$, and one term of the mean is enough.
#
# </details>
#
# 2. A model predicts the uniform distribution over 200 characters. What is its loss in nats, and in
#    bits? What is its perplexity?
#
# <details><summary>Hint</summary>
#
# $\log 200 \approx 5.30$ nats, $\log_2 200 \approx 7.64$ bits, perplexity 200: the uniform model's
# perplexity is always $V$.
#
# </details>
#
# 3. Show from section 3 that the gradient of the full training loss with respect to row $a$ of the
#    logit table is $\pi_a (\mathrm{softmax}(W_a) - P^\ast_a)$. What does it say about the fixed point
#    of gradient descent, and about rows of rare characters?
#
# <details><summary>Hint</summary>
#
# The loss is $\sum_a \pi_a \big(-\sum_b P^\ast_{ab} \log \mathrm{softmax}(W_a)_b\big)$; each bracket
# is a cross-entropy with target distribution $P^\ast_a$, whose gradient is $p - y$ (notebook 04) with
# $y = P^\ast_a$. It is zero exactly when $\mathrm{softmax}(W_a) = P^\ast_a$; a small $\pi_a$ scales the
# step down.
#
# </details>
#
# 4. Add-$\alpha$ smoothing is also what a trained table gets from some loss. Which? (Think of $\alpha$
#    fake counts of every pair, in the formula of $L$.)
#
# <details><summary>Hint</summary>
#
# $-\sum_{ab} (N_{ab} + \alpha) \log Q_{ab}$: the data's loss plus $\alpha V$ times the cross-entropy
# from the uniform distribution to $Q_a$, for every row. Its minimiser is the smoothed table (section 3's argument
# with $N + \alpha$ for $N$): a pull of every row towards uniform, a regulariser.
#
# </details>
#
# 5. With `CosineWarmup(3e-3, 50, 600, 3e-4)`, what is the learning rate at steps 0, 49, 325 and 600?
#    Check with the schedule.
#
# <details><summary>Hint</summary>
#
# $3\times10^{-3}/50 = 6\times10^{-5}$; $3\times10^{-3}$; halfway through the cosine,
# $3\times10^{-4} + \tfrac12 (2.7\times10^{-3}) = 1.65\times10^{-3}$; $3\times10^{-4}$.
#
# </details>
#
# 6. The gradients have a global norm of 4 and `max_norm=1`. What happens to each gradient? And if
#    the norm is 0.5?
#
# <details><summary>Hint</summary>
#
# Every gradient is multiplied by $1/4$ (up to $\epsilon$): the direction is kept, the length becomes 1.
# At 0.5 nothing changes: clipping only shortens.
#
# </details>
#
# Assignment `lessons/a05_optimizer` has you write AdamW's update, the warmup + cosine schedule and
# global-norm clipping inside npgpt (tasks 5.1 to 5.3); the grader checks them against reference numbers.

# %% [markdown]
# ## Papers
#
# - Shannon, 1948, *A Mathematical Theory of Communication*: entropy, and samples of English from
#   letter, pair and triple statistics, the first $n$-gram language models.
#   <https://people.math.harvard.edu/~ctm/home/text/others/shannon/entropy/entropy.pdf>
# - Shannon, 1951, *Prediction and Entropy of Printed English*: about one bit per character, from
#   people guessing the next letter. <https://www.princeton.edu/~wbialek/rome/refs/shannon_51.pdf>
# - Bengio, Ducharme, Vincent and Jauvin, 2003, *A Neural Probabilistic Language Model*: the embedding
#   + MLP model of section 5. <https://www.jmlr.org/papers/v3/bengio03a.html>
# - Kingma and Ba, 2014, *Adam: A Method for Stochastic Optimization*. <https://arxiv.org/abs/1412.6980>
# - Loshchilov and Hutter, 2019, *Decoupled Weight Decay Regularization* (AdamW).
#   <https://arxiv.org/abs/1711.05101>
# - Loshchilov and Hutter, 2017, *SGDR: Stochastic Gradient Descent with Warm Restarts* (the cosine
#   schedule). <https://arxiv.org/abs/1608.03983>
# - Pascanu, Mikolov and Bengio, 2013, *On the difficulty of training recurrent neural networks*
#   (clipping by the global norm). <https://arxiv.org/abs/1211.5063>
