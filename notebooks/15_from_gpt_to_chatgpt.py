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
# # 15 · From GPT to ChatGPT
#
# A GPT trained on Shakespeare continues text. Ask it a question and it writes more Shakespeare.
# ChatGPT answers. What happened in between? Popular articles say:
#
# * "ChatGPT is a bigger GPT-3";
# * "GPT is a masked autoencoder" (it fills in blanks, like BERT);
# * "it is trained layer by layer";
# * "pre-train, then fine-tune on labelled task data" is the whole story.
#
# None of these is right. ChatGPT (November 2022) is a GPT-3.5 model tuned with the **InstructGPT
# recipe** (Ouyang et al., 2022): (1) supervised fine-tuning on demonstrations, (2) a reward model
# trained on people's comparisons of answers, (3) reinforcement learning (PPO) against that reward
# with a per-token KL penalty to the supervised model. InstructGPT's 1.3B-parameter model was
# preferred by people over the 175B GPT-3. In 2023, **DPO** showed that steps 2 and 3 can be one loss.
#
# This notebook walks the whole path on a tiny model, in about a minute on a CPU, with npgpt's
# real code (`npgpt/chat/`, losses in `npgpt/ops/chat_losses.py`):
#
# 1. a base model and what it does with a question;
# 2. the chat template and its special tokens;
# 3. SFT, with the loss mask pictured;
# 4. the reward model;
# 5. the RL step, and why the KL penalty;
# 6. DPO, derived from the RL objective in a few lines;
# 7. the accuracy table; the popular claims against the code.

# %%
import json
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import npgpt
import npgpt.functional as F
from npgpt.chat.data import IGNORE_INDEX, load_conversations, pad_batch, shipped
from npgpt.chat.dpo import DPOConfig, dpo
from npgpt.chat.evaluate import accuracy, load_questions, reply_texts
from npgpt.chat.model import add_chat_tokens, load_policy
from npgpt.chat.reward import RewardConfig, train_reward
from npgpt.chat.rl import RLConfig, rl
from npgpt.chat.sft import SFTConfig, sft
from npgpt.chat.template import render, render_text
from npgpt.train import TrainConfig, train

start = time.time()
work = Path(tempfile.mkdtemp(prefix="npgpt_chat_"))
quiet = lambda *a: None  # noqa: E731  (the stages print progress; here we show results instead)

# %% [markdown]
# ## 1. A base model
#
# A small GPT (2 layers, width 64, 64-character context) trained for a few hundred steps on the
# shipped Shakespeare: the same `npgpt train` as notebook 10, only smaller, so the notebook stays fast.

# %%
base_cfg = TrainConfig(
    out_dir=str(work / "base"),
    n_layer=2,
    n_head=4,
    n_embd=64,
    max_steps=1000,
    warmup_steps=50,
    lr=3e-3,
    eval_interval=1000,
    eval_batches=4,
    sample_chars=0,
    progress=False,
)
res = train(base_cfg, log=quiet)
base_ck = work / "base" / "checkpoint"
print(f"base model: val loss {res.val_loss:.3f} after {res.step} steps ({res.seconds:.0f} s)")

# %% [markdown]
# Ask it a question, as plain text. It has only ever seen plays, so it continues the play:

# %%
base, base_tok, _ = load_policy(base_ck)
base.eval()
question = "Which play? Good night, sweet prince."
ids = np.array(base_tok.encode(question))
out = base.generate(ids, 40, temperature=0, rng=0)[0]
print(repr(base_tok.decode(out.tolist())))

# %% [markdown]
# ## 2. The chat template
#
# A conversation is a list of messages with roles (the JSONL shape OpenAI, HuggingFace and TRL
# use). The template wraps each message in **special tokens**: new ids that no text encodes to.
# The base tokenizer has none, so they are appended (`with_special_tokens`, old ids unchanged) and
# the embedding matrix grows by four rows, each the mean of the old rows. The output head is tied
# to that matrix, so the same rows are the new tokens' output weights.

# %%
model, tok = add_chat_tokens(base, base_tok)
print("special tokens:", tok.special_tokens)
print("vocabulary:", base_tok.vocab_size, "->", tok.vocab_size)
conv = load_conversations(shipped("chat_train"))[3][1]
print(render_text(conv))
ids, mask = render(conv, tok)
print(ids)

# %% [markdown]
# ## 3. Supervised fine-tuning, and the mask
#
# Fine-tuning means continuing to train a trained model on new data, with a fresh optimizer:
# `npgpt train --init-from CHECKPOINT --data FILE` does it for plain text (the README shows a model
# fine-tuned on one play beating one trained from scratch on it in the same steps). SFT is that,
# with conversations for data, the chat tokens added, and a mask on the loss.
#
# SFT is pre-training's loss on different data: next-token cross-entropy, but only on the
# **assistant's** tokens and its `<|end|>` (so it learns to answer *and to stop*). Every other
# target is `ignore_index` = -100 and contributes nothing. Green: the targets the model learns.

# %%
x, y = pad_batch([(ids, mask)])
labels = [tok.decode([i]) if i < base_tok.vocab_size else "·" for i in ids[1:]]
fig, ax = plt.subplots(figsize=(12, 1.3))
ax.imshow((y != IGNORE_INDEX).astype(float), cmap="RdYlGn", vmin=-0.3, vmax=1.3, aspect="auto")
for t, ch in enumerate(labels):
    ax.text(t, 0, ch, ha="center", va="center", fontsize=8)
ax.set_yticks([])
ax.set_title("targets of one conversation: green = in the loss, red = ignore_index (· = a special token)")
plt.show()
print("answer tokens in the loss:", int((y != IGNORE_INDEX).sum()), "of", y.size)

# %% [markdown]
# ### Your turn: inputs and targets from the mask
#
# `render` gave a conversation's `ids` and its `mask` (True on the tokens the model must learn to
# write). Write `my_sft_example(ids, mask)`: the inputs `x` and the targets `y` of that one
# conversation, two integer arrays of length `len(ids) - 1`, with `y` equal to `IGNORE_INDEX` (-100)
# wherever the token to be predicted is not one the model must learn. `cross_entropy(logits, y)` is
# then the SFT loss. The next cell compares yours with `pad_batch` on 50 shipped conversations.
#
# *Hint:* position $t$ of `x` predicts the *next* token. So which entry of `mask` decides whether
# target $t$ counts: `mask[t]` or `mask[t + 1]`?
#
# <details><summary>Answer</summary>
#
# ```python
# def my_sft_example(ids, mask):
#     ids, mask = np.asarray(ids), np.asarray(mask, dtype=bool)
#     x = ids[:-1]                                      # every token but the last is an input
#     y = np.where(mask[1:], ids[1:], IGNORE_INDEX)     # target t is token t + 1, kept if IT is learned
#     return x, y
# ```
#
# </details>


# %%
def my_sft_example(ids, mask):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    ids, mask = np.asarray(ids), np.asarray(mask, dtype=bool)
    x = ids[:-1]
    y = np.where(mask[1:], ids[1:], IGNORE_INDEX)
    return x, y


# %%
from npgpt.exercises import check_array

shipped_convs = [c for _, c in load_conversations(shipped("chat_train"))[:50]]
for i, c in enumerate(shipped_convs):
    c_ids, c_mask = render(c, tok)
    x_ref, y_ref = pad_batch([(c_ids, c_mask)])
    x_mine, y_mine = my_sft_example(c_ids, c_mask)
    for what, got, want in [("x", x_mine, x_ref[0]), ("y", y_mine, y_ref[0])]:
        if np.shape(got) != want.shape or not np.array_equal(got, want):  # say what is wrong, and where
            check_array(
                f"{what} of conversation {i}",
                got,
                want,
                hint="target t is ids[t + 1]; it counts when mask[t + 1] is True, otherwise it is -100.",
            )
print(f"correct: inputs and targets of {len(shipped_convs)} conversations match pad_batch")

# %%
sft_res = sft(
    SFTConfig(
        init_from=str(base_ck), out_dir=str(work / "sft"), max_steps=800, progress=False, lr=3e-3, eval_questions=0
    ),
    log=quiet,
)
sft_ck = work / "sft" / "checkpoint"
print(f"SFT answer loss after 800 steps: {sft_res['loss']:.3f} ({sft_res['seconds']:.0f} s)")
sft_model, chat_tok, _ = load_policy(sft_ck)
sft_model.eval()
for q in ["In capitals: Good night, sweet prince.", "First word: Now cracks a noble heart.", question]:
    reply, stopped = reply_texts(sft_model, chat_tok, [[{"role": "user", "content": q}]])[0]
    print(f"{q!r:45} -> {reply!r} {'(ended its turn)' if stopped else '(did not stop)'}")

# %% [markdown]
# ## 4. The reward model
#
# People compared pairs of answers; the reward model learns to score the preferred one higher. It
# is the GPT trunk (started from the SFT model) with a scalar head read at the reply's `<|end|>`,
# trained with the **Bradley-Terry** loss: $P(\text{chosen} \succ \text{rejected}) =
# \sigma(r_c - r_r)$, loss $= -\log \sigma(r_c - r_r)$. Our "people" are a program: the shipped
# pairs prefer the correct answer to a plausible wrong one (another play, the second word, ...).

# %%
rm_res = train_reward(
    RewardConfig(init_from=str(sft_ck), out_dir=str(work / "reward"), max_steps=120, progress=False, lr=1e-3), log=quiet
)
print(f"reward model: pairwise accuracy on held-out pairs {rm_res['pairwise_accuracy']:.1%} (chance 50%)")

# %% [markdown]
# ## 5. RL against the reward, with a KL penalty
#
# Sample answers from the policy, score them with the reward model, and push up the log-probability
# of answers that scored above the average of the other answers to the same prompt (the
# advantage). The objective is PPO's clipped one (`ppo_clipped_loss`); on fresh samples it is
# exactly REINFORCE with a baseline, and the clip only acts when a batch is reused.
#
# **This is not InstructGPT's PPO.** InstructGPT ran full PPO: its baseline was a learned **value
# function**, a second network trained alongside the policy to predict the return, with advantages
# estimated from it (GAE). npgpt learns no value function: the baseline of a reply is the **mean score of
# the other replies to the same prompt** (leave one out), the baseline of **RLOO** (Ahmadian et al., 2024)
# and, up to GRPO's division by the standard deviation, of **GRPO** (Shao et al., 2024). So the step is a
# clipped policy gradient with a leave-one-out baseline, RLOO/GRPO-style: it needs no second network and
# only a few replies per prompt.
#
# **Why the KL penalty.** The reward model is only trustworthy near the answers it was trained
# on. A policy that maximises the reward alone drifts to answers the reward model overrates
# ("reward hacking"). So each token pays $\beta \log \frac{\pi(y_t)}{\pi_\text{SFT}(y_t)}$: the
# objective is $E[r] - \beta\,\mathrm{KL}(\pi \,\|\, \pi_\text{SFT})$.

# %%
rl_res = rl(
    RLConfig(
        init_from=str(sft_ck),
        reward_model=str(work / "reward" / "checkpoint"),
        out_dir=str(work / "rl"),
        max_steps=12,
        progress=False,
        eval_questions=0,
    ),
    log=quiet,
)
log = [json.loads(line) for line in (work / "rl" / "log.jsonl").read_text().splitlines()]
fig, axes = plt.subplots(1, 3, figsize=(12, 2.5))
for ax, key in zip(axes, ["reward", "kl", "accuracy"]):
    ax.plot([r["step"] for r in log], [r[key] for r in log], marker="o")
    ax.set_title(key)
    ax.set_xlabel("RL step")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. DPO: the same objective, one loss
#
# The KL-regularised objective $\max_\pi E_{y \sim \pi}[r(x, y)] - \beta\,\mathrm{KL}(\pi \| \pi_\text{ref})$
# has a closed-form best policy:
# $\pi^*(y|x) = \pi_\text{ref}(y|x)\, e^{r(x,y)/\beta} / Z(x)$.
# Solve for the reward: $r(x, y) = \beta \log \frac{\pi^*(y|x)}{\pi_\text{ref}(y|x)} + \beta \log Z(x)$.
# Put it into the Bradley-Terry loss: $Z(x)$ is the same for both answers and cancels, leaving
#
# $$\mathcal{L}_\text{DPO} = -\log \sigma\Big(\beta \big[(\log \pi(y_c) - \log \pi_\text{ref}(y_c)) - (\log \pi(y_r) - \log \pi_\text{ref}(y_r))\big]\Big)$$
#
# with $\log \pi(y)$ the sum of the answer's token log-probabilities (`sequence_logprobs`, the
# template and prompt masked out). No reward model, no sampling. `npgpt.functional.dpo_loss` is
# an op with a hand-written backward; check it against finite differences:
#
# **Predict, then run.** DPO training starts with the policy equal to the reference: both are the
# SFT model. What is the DPO loss at the first step, whatever the pairs?

# %%
rng = np.random.default_rng(0)
logps = [npgpt.tensor(rng.standard_normal(5) * 3, requires_grad=True) for _ in range(4)]
report = npgpt.gradcheck(lambda *a: F.dpo_loss(*a, beta=0.5), logps)
print(report)

dpo_res = dpo(
    DPOConfig(init_from=str(sft_ck), out_dir=str(work / "dpo"), max_steps=60, progress=False, eval_questions=0),
    log=quiet,
)
print(f"DPO loss after 60 steps: {dpo_res['loss']:.3f} (log 2 = {np.log(2):.3f} at the start)")

# %% [markdown]
# ### Your turn: the DPO loss by hand
#
# Write `my_dpo_loss(pc, pr, rc, rr, beta)` with NumPy: four arrays `(B,)` of summed log-probabilities
# in (policy and reference, chosen and rejected answers), the mean DPO loss out. It must not
# overflow: log-probabilities of long answers are in the hundreds, so $|z|$ can be too. The next cell
# compares it with `F.dpo_loss` on ordinary pairs and on extreme ones.
#
# *Hint:* first $z$, the chosen answer's implicit reward minus the rejected one's. Then
# $-\log \sigma(z) = \log(1 + e^{-z})$: which NumPy function computes $\log(e^a + e^b)$ without ever
# forming $e^{-z}$?
#
# <details><summary>Answer</summary>
#
# ```python
# def my_dpo_loss(pc, pr, rc, rr, beta):
#     z = beta * ((pc - rc) - (pr - rr))       # r_hat(chosen) - r_hat(rejected)
#     return np.logaddexp(0.0, -z).mean()     # -log sigmoid(z) = log(e^0 + e^-z), never overflows
# ```
#
# </details>


# %%
def my_dpo_loss(pc, pr, rc, rr, beta):
    # your code here (the answer is filled in, so the notebook runs top to bottom)
    z = beta * ((pc - rc) - (pr - rr))
    return np.logaddexp(0.0, -z).mean()


# %%
pair_rng = np.random.default_rng(14)
for scale in (1.0, 1000.0):  # ordinary log-probabilities, then ones that overflow a naive exp
    four = [scale * pair_rng.standard_normal(6) for _ in range(4)]
    check_array(
        f"my_dpo_loss (log-probabilities of size ~{scale:g})",
        my_dpo_loss(*four, beta=0.5),
        F.dpo_loss(*(npgpt.tensor(a) for a in four), beta=0.5).item(),
        hint="z = beta ((pc - rc) - (pr - rr)), loss = mean of -log sigmoid(z), computed without overflow.",
    )

# %% [markdown]
# ## 7. What each step bought
#
# Held-out questions (their source lines never appear in the training data), greedy answers.
# *correct*: exact match; *in format*: an answer of the right shape that ended its turn.
#
# This model is tiny and briefly trained: SFT teaches it the *format* almost at once (answer in the
# right shape, then stop), while the answers themselves come slowly (copying a word or a line in
# capitals needs attention heads that find the right position; naming the play needs knowledge the
# small base model barely has). The README's table is the same measurement on the default-size
# models (`python tools/chat_pipeline.py`): there SFT copies the first word right 60% of the time,
# and RL and DPO, for reasons the README explains, add nothing on these checkable questions.

# %%
questions = load_questions(shipped("chat_val"), 100)
table = {}
for name, ck in [
    ("base + template", base_ck),
    ("SFT", sft_ck),
    ("SFT + RL", work / "rl" / "checkpoint"),
    ("SFT + DPO", work / "dpo" / "checkpoint"),
]:
    m, t, _ = load_policy(ck)
    m, t = add_chat_tokens(m, t)
    m.eval()
    table[name] = accuracy(m, t, questions)
print(f"{'model':16} {'correct':>8} {'in format':>10}   " + "  ".join(f"{k:>10}" for k in table["SFT"]["tasks"]))
for name, a in table.items():
    per = "  ".join(f"{v:>10.0%}" for v in a["tasks"].values())
    print(f"{name:16} {a['correct']:>8.0%} {a['format']:>10.0%}   {per}")

# %% [markdown]
# ## 8. The popular claims, against the code
#
# **"ChatGPT is a bigger GPT-3."** Nothing above changed the architecture or the size: the SFT,
# RL and DPO models have the base model's parameters plus four embedding rows. What changed is the
# data and the objective. (InstructGPT's 1.3B model beat the 175B GPT-3 in people's preferences.)

# %%
n_base, n_sft = base.num_parameters(), sft_model.num_parameters()
print(
    f"base {n_base:,} parameters, chat model {n_sft:,}: + {n_sft - n_base} = 4 new tokens x width {base.config.n_embd}"
)

# %% [markdown]
# **"GPT is a masked autoencoder."** Notebook 09 (section 6) says how a GPT is trained; here is the
# check on the chat model: behind the causal mask, changing a later token cannot change an earlier
# prediction.

# %%
a = np.array([tok.encode("To be, or not to be")])
b = a.copy()
b[0, -3:] = tok.encode("xyz")
la, lb = sft_model(a)[0].numpy(), sft_model(b)[0].numpy()
print(
    "earlier positions unchanged:",
    np.allclose(la[0, :-3], lb[0, :-3]),
    "| later ones changed:",
    not np.allclose(la[0, -3:], lb[0, -3:]),
)

# %% [markdown]
# **"It is trained layer by layer."** The same holds in SFT as in pre-training (notebook 09, section 6):
# one loss, one backward, and every parameter gets its gradient:

# %%
sft_model.zero_grad()
xb, yb = pad_batch([(ids, mask)])
sft_model(xb, yb)[1].backward()
print(
    "parameters with a gradient:",
    sum(p.grad is not None and bool(np.any(p.grad)) for p in sft_model.parameters()),
    "of",
    len(list(sft_model.parameters())),
)

# %% [markdown]
# **"Pre-train, then fine-tune on labelled data" is the whole story.** SFT is that step, and it is
# where most of the gain is. But ChatGPT's recipe continues with *preferences*: a reward model
# learned from comparisons, then RL against it with a KL leash (or DPO). Those steps need no
# correct answer for each prompt, only a judgement of which of two answers is better.

# %% [markdown]
# ## Checks

# %%
assert report.ok, "dpo_loss gradient check failed"
assert table["SFT"]["format"] >= 0.8 and table["base + template"]["format"] <= 0.1, table
assert table["SFT"]["correct"] > table["base + template"]["correct"], table
assert rm_res["pairwise_accuracy"] > 0.6, rm_res
assert np.allclose(la[0, :-3], lb[0, :-3])
print(f"all checks passed in {time.time() - start:.0f} s")

# %% [markdown]
# ## Check yourself
#
# 1. In the mask picture, why is `<|end|>` of the assistant green but `<|assistant|>` red? What
#    would a model trained with `<|end|>` masked out do at chat time?
#
# <details><summary>Hint</summary>
#
# The model never has to write `<|assistant|>`: the chat code puts it at the end of the prompt
# (`add_generation_prompt=True`). `<|end|>` is the one token by which the model itself ends its
# turn, and generation stops there. Never trained to write it, the model would go on writing until
# `max_new_tokens` runs out.
#
# </details>
#
# 2. `pad_batch` pads on the right. Why can padding on the right never change the real tokens'
#    logits in a causal model? (tests/test_chat_losses.py checks that the gradient is unchanged.)
#
# <details><summary>Hint</summary>
#
# Behind the causal mask, position $t$ attends only to positions $\le t$; the pads come after every
# real token, so no real position sees them, and the real tokens keep their positions (padding on
# the left would shift them). The pads' targets are `ignore_index`, so the loss ignores them too.
#
# </details>
#
# 3. Set `kl_coef=0` and run more RL steps. What happens to the KL column, and to accuracy?
#
# <details><summary>Hint</summary>
#
# Nothing pulls the policy back to the SFT model any more: watch the KL grow from step to step. The
# reward can keep rising while accuracy does not follow: the policy finds answers the reward model
# scores too high, away from the answers it was trained on.
#
# </details>
#
# 4. With `ppo_epochs=1`, show from the docstring of `PPOClippedLoss` that the gradient is
#    REINFORCE's. Which tokens lose their gradient when the ratio leaves [0.8, 1.2]?
#
# <details><summary>Hint</summary>
#
# With one pass the samples are fresh: `logp == old_logp`, so $r = 1$, the unclipped term is the
# smaller one and the gradient is $A \, \nabla \log \pi$. With reuse, a token whose ratio has
# already moved past $1 \pm 0.2$ *in the direction its advantage favours* ($r > 1.2$ with $A > 0$, or
# $r < 0.8$ with $A < 0$) gets gradient 0.
#
# </details>
#
# 5. In DPO, the weight of a pair in the gradient is $\sigma(-z)$. Which pairs does DPO learn from
#    most? Which does it nearly ignore?
#
# <details><summary>Hint</summary>
#
# $\sigma(-z)$ is near 1 when $z \ll 0$: pairs whose implicit rewards rank the rejected answer
# above the chosen one. Pairs already ranked right by a wide margin ($z \gg 0$) weigh almost nothing.
#
# </details>
#
# 6. Why does the reward model read the hidden state at `<|end|>` and not at the first token?
#
# <details><summary>Hint</summary>
#
# In a causal model the hidden state at position $t$ has seen only tokens $0..t$. At the first token
# it knows nothing of the reply; at the reply's `<|end|>` it has read the prompt and the whole reply.
#
# </details>

# %%
import shutil

shutil.rmtree(work)  # the checkpoints of this notebook's runs

# %% [markdown]
# ## Papers
#
# - Ouyang et al., 2022, *Training language models to follow instructions with human feedback*
#   (InstructGPT): SFT, a reward model, then PPO with a per-token KL penalty; the 1.3B model
#   preferred to the 175B GPT-3. <https://arxiv.org/abs/2203.02155>
# - OpenAI, 2022, *Introducing ChatGPT*: "fine-tuned from a model in the GPT-3.5 series" with the
#   same methods as InstructGPT. <https://openai.com/index/chatgpt/>
# - Christiano et al., 2017, *Deep Reinforcement Learning from Human Preferences*: a reward learned
#   from people's comparisons. <https://arxiv.org/abs/1706.03741>
# - Ziegler et al., 2019, *Fine-Tuning Language Models from Human Preferences*, and Stiennon et al.,
#   2020, *Learning to summarize from human feedback*: the recipe on language models, with the KL
#   penalty to the supervised model. <https://arxiv.org/abs/1909.08593>,
#   <https://arxiv.org/abs/2009.01325>
# - Schulman et al., 2017, *Proximal Policy Optimization Algorithms*: the clipped objective.
#   <https://arxiv.org/abs/1707.06347>
# - Ahmadian et al., 2024, *Back to Basics: Revisiting REINFORCE Style Optimization for Learning from
#   Human Feedback in LLMs* (RLOO): the leave-one-out baseline of section 5, with no value function.
#   <https://arxiv.org/abs/2402.14740>
# - Shao et al., 2024, *DeepSeekMath* (GRPO): PPO's clip with a group-mean baseline in place of the
#   value function. <https://arxiv.org/abs/2402.03300>
# - Rafailov et al., 2023, *Direct Preference Optimization: Your Language Model is Secretly a Reward
#   Model*: the derivation of section 6. <https://arxiv.org/abs/2305.18290>
# - Bradley and Terry, 1952, *Rank Analysis of Incomplete Block Designs: I. The Method of Paired
#   Comparisons*, Biometrika 39: the pairwise preference model. <https://doi.org/10.2307/2334029>

# %% [markdown]
# **Talk to it in the browser.** `npgpt serve --checkpoint runs/sft/checkpoint` opens a chat page for
# the model you tuned, where each token of a reply shows the probability it was drawn with, the
# alternatives at that step and the attention behind it (the README's section "Chat in the browser").
