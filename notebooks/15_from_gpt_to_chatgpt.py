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
from npgpt.chat.data import IGNORE_INDEX, load_conversations, pad_batch, read_questions, shipped
from npgpt.chat.dpo import DPOConfig, dpo
from npgpt.chat.evaluate import accuracy, load_questions, reply_texts
from npgpt.chat.model import add_chat_tokens, load_policy, load_reward_model
from npgpt.chat.reward import RewardConfig, train_reward
from npgpt.chat.rl import RLConfig, rl, rollout
from npgpt.chat.sft import SFTConfig, sft
from npgpt.chat.tasks import grade
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
# ("reward hacking"). So each token pays $\beta \log \frac{\pi(y_t)}{\pi_\text{SFT}(y_t)}$
# (`kl_coef` is $\beta$): the objective is $E[r] - \beta\,\mathrm{KL}(\pi \,\|\, \pi_\text{SFT})$.
# In the code (`kl_penalized_advantages`) the token at $t$ gets the advantage
#
# $$A_t = (s - \bar s_{-i}) - \beta \sum_{u \ge t} \big(\log \pi(y_u) - \log \pi_\text{SFT}(y_u)\big),$$
#
# the reply's score minus its leave-one-out baseline, minus the KL still to come in the reply.
#
# **Why in the reward, and not as a loss term.** The replies were sampled from $\pi$. Differentiate
# the sampled log-ratio $\log \pi(y) - \log \pi_\text{SFT}(y)$ on those fixed samples and its gradient
# is $\nabla \log \pi(y)$, whose expectation under $\pi$ is $\sum_y \nabla \pi(y) = \nabla 1 = 0$: as a loss
# term it would pull nowhere on average. The KL's true gradient has the score-function form
# $E_\pi[\log \frac{\pi}{\pi_\text{SFT}} \nabla \log \pi]$: the log-ratio *weights* $\nabla \log \pi$,
# exactly as a reward does. So it goes in with the reward (InstructGPT, Ziegler et al. and Stiennon
# et al. do the same), per token, so that each token answers for the drift it and the tokens after it cause.
#
# ### Reward hacking, shown
#
# The same RL twice from the same SFT model, with the same seed, learning rate and prompts: once
# with `kl_coef=0` (**penalty off**), once with `kl_coef=3` (**penalty on**). The learning rate
# (1e-3) is ten times the `npgpt rl` default, so that the drift happens in the 20 steps a notebook
# can afford; a step that large needs a penalty that large to hold it (the default 0.2 is sized for
# the default 1e-4). Each run logs, per step, the mean reward of its 16 sampled replies, their
# KL to the SFT model (nats per reply: the sum over a reply's tokens of
# $\log \pi(y_t) - \log \pi_\text{SFT}(y_t)$, averaged over the replies), and the fraction of them
# that `tasks.grade` calls correct.
#
# **Predict, then run.** Which of the three curves will the penalty change most?

# %%
rm_ck = work / "reward" / "checkpoint"
rl_runs = {}
for run, kl_coef in [("penalty off", 0.0), ("penalty on", 3.0)]:
    rl(
        RLConfig(
            init_from=str(sft_ck),
            reward_model=str(rm_ck),
            data=str(shipped("chat_train")),  # prompts: the SFT questions (the answers are not used)
            out_dir=str(work / run.replace(" ", "_")),
            max_steps=20,
            lr=1e-3,
            kl_coef=kl_coef,
            seed=1,
            progress=False,
            eval_questions=0,
        ),
        log=quiet,
    )
    rl_runs[run] = [json.loads(line) for line in (work / run.replace(" ", "_") / "log.jsonl").read_text().splitlines()]

fig, axes = plt.subplots(1, 3, figsize=(13, 3))
titles = {
    "reward": "mean reward-model score",
    "kl": "KL to SFT (nats per reply)",
    "accuracy": "checked accuracy (sampled)",
}
for ax, (key, title) in zip(axes, titles.items()):
    for run, rows in rl_runs.items():
        ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o", label=run)
    ax.set_title(title)
    ax.set_xlabel("RL step")
axes[1].set_yscale("symlog", linthresh=1.0)
axes[0].legend()
plt.tight_layout()
plt.show()
for run, rows in rl_runs.items():  # step 1 (the SFT model) -> the mean of the last 5 steps
    print(f"{run:12}", ", ".join(f"{k} {rows[0][k]:.2f} -> {np.mean([r[k] for r in rows[-5:]]):.2f}" for k in titles))

# %% [markdown]
# The KL changed most: with the penalty off it climbs to ten nats and more per reply, with it on it
# stays at a few, while the two rewards climb together at first. Each point is 16 replies to 4
# prompts of one length (often one task), so the curves are noisy; the measurement below is on
# fixed held-out questions. **What does the reward model overrate?** Sample replies to 63 held-out
# questions from the SFT model and from both RL models (temperature 1, the same seed), and score
# each with the reward model. `rollout` is the function an RL step samples and scores with.

# %%
rm, _ = load_reward_model(rm_ck)
rm.eval()
end_id = chat_tok.special_tokens["<|end|>"]
held, asked = [], {}  # (prompt ids, task, gold answer) as rollout takes them; prompt ids -> question
for _, (task, msgs, gold) in read_questions(shipped("chat_val"))[::4]:  # 63 questions, all five tasks
    held.append((render(msgs, chat_tok, add_generation_prompt=True)[0], task, gold))
    asked[tuple(held[-1][0])] = msgs[-1]["content"]
probe = RLConfig(samples=2)  # two replies per question, temperature 1, at most 40 tokens


def sample_and_score(policy):
    """One dict per reply sampled from ``policy``: question, answer, reply, score, KL to SFT, correct, stopped.

    The score is the reward RL sees: the reward model's, minus the penalty if the reply never stopped.
    """
    rng, rows, by_len = np.random.default_rng(0), [], {}
    for item in held:
        by_len.setdefault(len(item[0]), []).append(item)  # equal-length prompts sample as one batch
    for items in by_len.values():
        x, targets, mask, logp, ref_logp, scores, *_ = rollout(policy, sft_model, rm, chat_tok, items, probe, rng)
        kl = ((logp - ref_logp) * mask).sum(axis=1)  # nats per reply
        for b in range(len(x)):
            ids, task, answer = items[b // probe.samples]
            reply_ids = list(targets[b][mask[b]])
            stopped = reply_ids[-1] == end_id
            reply = chat_tok.decode(reply_ids[:-1] if stopped else reply_ids)
            correct = grade(task, reply, answer, stopped)[0]
            rows.append(dict(question=asked[tuple(ids)], answer=answer, reply=reply, score=float(scores[b])))
            rows[-1].update(kl=float(kl[b]), correct=correct, stopped=stopped)
    return rows


def gold_scores():
    """The reward model's score of each held-out question's correct answer."""
    out = []
    for ids, _, gold in held:
        full = np.array([ids + chat_tok.encode(gold) + [end_id]])
        out.append(rm(full, np.array([full.shape[1] - 1])).item())
    return np.array(out)


policies = {"SFT": sft_model}
for run in rl_runs:
    policies[run], _, _ = load_policy(work / run.replace(" ", "_") / "checkpoint")
    policies[run].eval()
samples = {name: sample_and_score(p) for name, p in policies.items()}
gold = gold_scores()
mean = lambda rows, key: np.mean([r[key] for r in rows])  # noqa: E731
print(f"{'replies of':12} {'RM score':>9} {'KL to SFT':>10} {'correct':>8}")
print(f"{'gold answers':12} {gold.mean():>+9.2f} {'':>10} {1:>8.0%}")
for name, rows in samples.items():
    print(f"{name:12} {mean(rows, 'score'):>+9.2f} {mean(rows, 'kl'):>10.2f} {mean(rows, 'correct'):>8.0%}")
shown = {}  # the first reply to the first question of each task
for i, r in enumerate(samples["SFT"]):
    shown.setdefault(r["question"].split(":")[0].split("?")[0], i)
for i in shown.values():
    print(f"\n{samples['SFT'][i]['question']!r} (correct: {samples['SFT'][i]['answer']!r})")
    for name, rows in samples.items():
        print(f"  {name:12} {rows[i]['score']:+.2f}  {rows[i]['reply']!r}")

# %% [markdown]
# With the penalty off, the policy left the SFT model far behind (over ten nats per reply: a reply
# is $e^{\text{KL}}$ times likelier under the policy than under SFT) and found text the reward model
# scores **above the correct answers**: capital letters, full stops and pieces of names, whatever
# the question. Look at the reward model's data (`prefs_train.jsonl`): in the *capitals* pairs the
# chosen answer is the line in capitals and the rejected one the same line as written, and the
# speakers' names are in capitals too. Nothing in the pairs separates "capitals because the
# question asked for them" from "capitals", so the reward model learned the cheaper rule. Check
# it: the same SFT reply, scored as written and in capitals.


# %%
def rm_score(question, reply):
    ids = render([{"role": "user", "content": question}], chat_tok, add_generation_prompt=True)[0]
    ids = ids + chat_tok.encode(reply) + [end_id]
    return rm(np.array([ids]), np.array([len(ids) - 1])).item()


lower = [r for r in samples["SFT"] if r["stopped"] and r["reply"] != r["reply"].upper()]
shouted = np.array([rm_score(r["question"], r["reply"].upper()) - rm_score(r["question"], r["reply"]) for r in lower])
print(
    f"{len(lower)} SFT replies with lower-case letters (that ended their turn): in capitals the reward model scores them "
    f"{shouted.mean():+.2f} higher on average, higher in {np.mean(shouted > 0):.0%} of them"
)
for reply in ["Hamlet", "HAMLET"]:
    print(f"'Which play? To be, or not to be' -> {reply!r}: {rm_score('Which play? To be, or not to be', reply):+.2f}")

# %% [markdown]
# RL searches for exactly such text: a feature the reward model pays for that the right answer does
# not need. With the penalty on, the policy stays within a few nats of SFT, its replies are still
# answers of the right shape, and its score rose only as far as the reward model can be trusted.
# The accuracy table in section 7 grades both models' greedy answers.
#
# The same happens at scale: Stiennon et al. (2020) optimised summaries against a learned reward
# with a small penalty and got summaries the reward model loved and people did not; Gao et al.
# (2023) measured how the true quality first rises, then falls, as the KL to the start grows.

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
# small base model barely has).
#
# The steps after SFT can only add what their signal carries. RL against the reward model learns
# what the reward model knows, mistakes included: with the penalty off it optimised those mistakes
# and lost the answers (section 5); with it on, it stays near SFT, and a small reward model that
# ranks four pairs in five right has little to add to a model already trained on the right answers.
# DPO here learns from pairs whose chosen answer is the one SFT was shown, so it says little that
# SFT did not. Both buy something when the signal holds what the demonstrations cannot: a reward a
# program checks, or a preference no single demonstration expresses, such as answering "I don't
# know" when this model would be wrong (ChatGPT making things up less than GPT-3). The README's
# table, from `python tools/chat_pipeline.py` on the default-size models, measures both; it is
# shown after this notebook's own table below.

# %%
questions = load_questions(shipped("chat_val"), 100)
table = {}
for name, ck in [
    ("base + template", base_ck),
    ("SFT", sft_ck),
    ("SFT + RL, no KL", work / "penalty_off" / "checkpoint"),
    ("SFT + RL, KL", work / "penalty_on" / "checkpoint"),
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
# ### The same steps at full size: the pipeline's table
#
# `tools/chat_pipeline.py` ran every step on `npgpt train`'s default model (0.8M parameters, val
# loss 1.93) and `npgpt sft`'s defaults, with three seeds for the steps after SFT, and graded the
# 250 held-out questions three ways: *correct*, *abstained* (exactly "I don't know."), *wrong*.
# Its results file, `docs/chat_results.json`, is what the README's table is rendered from (a test
# holds the two equal), so the numbers below are the README's, not a rerun (that takes about 14
# minutes of CPU per seed). Beside the models of this notebook it has two more:
#
# * **RL on the checker** (`npgpt rl --reward checker`): the reward is the task's own grade, 1 for a
#   correct answer and 0 otherwise. No reward model, so nothing to hack.
# * **The abstention preference**: pairs built from the SFT model's *own* samples, correct >
#   "I don't know." > wrong, learned by DPO (with the chosen reply's log-likelihood added) or by RL
#   with +1 / 0 / -1. No demonstration can teach this: whether to abstain depends on what this
#   model knows.

# %%
from IPython.display import Markdown, display

from npgpt.chat import results as pipeline

full = pipeline.load()
display(Markdown(pipeline.render(full)))
for what, measured, met in pipeline.targets(full):
    print(f"{'met    ' if met else 'not met'}  {what}: {measured}")

# %% [markdown]
# Read it against the three claims of this section. **SFT does the work**: format and stopping
# come from the demonstrations. **A checked reward teaches only what the model sometimes gets
# right**: RL on the checker moves correct answers by about a point, because in most groups of
# replies every reply scores the same (the speaker, capitals and finish questions are never right)
# and a group whose replies all score the same has zero advantage under a leave-one-out
# baseline. **Knowing when not to answer is learned from preferences**: both abstention runs cut
# the wrong answers by far more than a third, by abstaining on the tasks this model never gets
# right; what they cost in correct answers (the play, where it is right about one time in five) is
# the price of a model that cannot tell, question by question, which play it knows.

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
# reward hacking (section 5), on the 126 held-out replies of each model. A mean's noise is its
# standard error, std / sqrt(n): the rise must be several of them, not a lucky draw.
score = {name: np.array([r["score"] for r in rows]) for name, rows in samples.items()}
kl_to_sft = {name: mean(rows, "kl") for name, rows in samples.items()}
rise = score["penalty off"] - score["SFT"]  # paired: row i is a reply to the same question in each
assert rise.mean() > 4 * rise.std() / np.sqrt(len(rise)), rise  # the reward climbed, 4 standard errors
assert score["penalty off"].mean() > gold.mean(), (
    score["penalty off"].mean(),
    gold.mean(),
)  # above the right answers: overrated
assert shouted.mean() > 4 * shouted.std() / np.sqrt(len(shouted)), shouted  # capitals overrated
assert kl_to_sft["SFT"] == 0 and kl_to_sft["penalty off"] > 2 * kl_to_sft["penalty on"], kl_to_sft
assert rl_runs["penalty off"][0]["kl"] == 0 and rl_runs["penalty off"][-1]["kl"] > 1, rl_runs  # the KL climbed
off, on = table["SFT + RL, no KL"], table["SFT + RL, KL"]
assert off["correct"] < on["correct"], (off, on)  # the answers were lost
# the pipeline's table (docs/chat_results.json) says what section 7's text says of it
rate = {n: {r: np.mean([a[r] for a in m["greedy"]]) for r in pipeline.RATES} for n, m in full["models"].items()}
sft_rate = rate["SFT"]
for n in (n for n in rate if "DPO" in n or "-1" in n):  # the abstention runs: far fewer wrong answers
    assert rate[n]["wrong"] < sft_rate["wrong"] * 2 / 3 and rate[n]["abstained"] > 0.3, (n, rate[n])
assert all(abs(rate[n]["correct"] - sft_rate["correct"]) < 0.03 for n in rate if n.endswith("(checker)")), rate
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
# 3. In section 5, with the penalty off, the reward model scored the policy's replies above the
#    correct answers. How can a reply that answers nothing outscore the right answer? What data
#    would teach the reward model to score those replies low, and why does the KL penalty make
#    that data unnecessary?
#
# <details><summary>Hint</summary>
#
# The reward model was trained only on pairs of SFT-like replies (a right answer against a
# plausible wrong one); a score is a fit to those, and on text unlike any of them it is an
# extrapolation nothing checked. RL then searches for the replies where that extrapolation is
# highest. Comparisons of the *policy's own* new replies would correct it (InstructGPT and later
# work collected fresh comparisons of the current policy's samples and retrained the reward model,
# "iterated" RLHF). The penalty instead keeps the policy where the reward model's data was: within
# a few nats of SFT, its replies are the kind the reward model has seen.
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
#
# 7. The penalty-off run reached over ten nats of KL per reply. What does a KL of 20 nats say about
#    how the SFT model would have rated the policy's replies? And why did section 5 need
#    `kl_coef=3` at a learning rate of 1e-3, when `npgpt rl`'s defaults are 0.2 at 1e-4?
#
# <details><summary>Hint</summary>
#
# The KL is the average of $\log \pi(y) - \log \pi_\text{SFT}(y)$ over the policy's replies: at 20
# nats a typical reply is $e^{20} \approx 5 \times 10^8$ times likelier under the policy than under
# SFT, text the SFT model would practically never write. AdamW moves each weight by up to about
# `lr` per step whatever the gradient's size, so a larger step drifts further on noise alone; the penalty
# only changes the gradient's direction, and it must outweigh the reward's pull (and the noise)
# by enough to turn the policy back. Measure it: run section 5 with `kl_coef=0.2`.
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
# - Gao, Schulman and Hilton, 2023, *Scaling Laws for Reward Model Overoptimization*: the true
#   quality first rises, then falls, as a policy optimises a learned reward further from its start
#   (section 5's reward hacking, measured). <https://arxiv.org/abs/2210.10760>
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
