"""Direct Preference Optimization (DPO): the reward model and the RL step replaced by one loss.

The RL step maximises E[r(x, y)] - beta KL(pi || pi_ref). That objective's best policy is known
in closed form: pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x). Turned around, every policy
defines the reward it is optimal for, r(x, y) = beta log(pi(y|x) / pi_ref(y|x)) + beta log Z(x).
Put that into the Bradley-Terry loss of the reward model: Z(x) cancels in the difference of the
chosen and rejected rewards, and what is left is a loss on the policy alone (Rafailov et al., 2023):

    loss = -log sigmoid(beta ((log pi(y_c) - log pi_ref(y_c)) - (log pi(y_r) - log pi_ref(y_r))))

with log pi(y) the sum of the log-probabilities of the reply's tokens (``sequence_logprobs``).
No sampling and no reward model: one forward of the policy on each reply of a pair per step; the
reference (the SFT model) is fixed, so its log-probabilities are computed once, before training.

The loss only asks that the chosen reply gain on the rejected one; it is met as well by pushing
the rejected reply down as by raising the chosen one, and a chosen reply the model never writes
("I don't know." for an SFT model) may stay unlikely while every margin grows. ``nll_coef`` adds
the chosen reply's negative log-likelihood per token (Pang et al., 2024, "Iterative Reasoning
Preference Optimization"; Llama 3 did the same):

    loss = DPO loss + nll_coef * mean over pairs of -log pi(y_c) / len(y_c)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..settings import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, device_setting, setting
from .common import Trainer
from .data import batches, load_preferences, pad_batch, pair_examples, shipped
from .evaluate import held_out, val_questions
from .loop import Stage, begin, finish, fit
from .model import add_chat_tokens, load_policy


@dataclass
class DPOConfig:
    init_from: str = setting("runs/sft/checkpoint", "the SFT model: start of the policy and the fixed reference")
    data: str = setting("shipped", "JSONL of preference pairs ('shipped' = npgpt/data/prefs_train.jsonl)")
    val_data: str = setting("shipped", "held-out questions for the accuracy at the end ('shipped' = chat_val)")
    out_dir: str = setting("runs/dpo", "folder for the checkpoint and log.jsonl")
    max_steps: int = setting(200, "optimizer steps", POSITIVE_INT)
    batch_size: int = setting(16, "pairs per step", POSITIVE_INT)
    beta: float = setting(
        0.5, "strength of the implicit KL penalty to the reference (dpo_loss defaults to 0.1)", POSITIVE
    )
    nll_coef: float = setting(
        0.0, "weight of the chosen reply's negative log-likelihood per token (0 = plain DPO)", NON_NEGATIVE
    )
    lr: float = setting(1e-4, "peak learning rate", POSITIVE)
    grad_clip: float = setting(1.0, "clip the global gradient norm (0 = off)", NON_NEGATIVE)
    eval_questions: int = setting(100, "held-out questions to grade at the end (0 = none)", NON_NEGATIVE_INT)
    eval_interval: int = setting(25, "log the loss and save a checkpoint every this many steps", POSITIVE_INT)
    seed: int = setting(1337, "seed for the order of the pairs", SEED)
    device: str = device_setting()
    progress: bool = setting(True, "show a progress bar")


def answer_logprobs(model, examples):
    """log pi(reply | prompt) of each (ids, mask) example: (N,) Tensor, summed over the reply's tokens."""
    x, y = pad_batch(examples)  # y is ignore_index outside the reply
    logits, _ = model(x)
    return F.sequence_logprobs(logits, y, y != -100)


def preference_loss(chosen, rejected, ref_chosen, ref_rejected, chosen_lengths, beta, nll_coef=0.0):
    """DPO loss + nll_coef * mean(-log pi(y_c) / len(y_c)); log-probabilities (B,) summed over each reply."""
    loss = F.dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=beta)
    if nll_coef == 0:
        return loss
    return loss + (chosen * (-nll_coef / (len(chosen_lengths) * np.asarray(chosen_lengths)))).sum()


def reference_logprobs(ref, examples, batch_size=64):
    with no_grad():
        return np.concatenate(
            [answer_logprobs(ref, examples[i : i + batch_size]).numpy() for i in range(0, len(examples), batch_size)]
        )


def dpo(cfg: DPOConfig, log=print, resume=False, overwrite=False):
    """Train per ``cfg``; returns a summary dict (final loss, accuracy, seconds)."""
    t0 = time.time()
    begin(cfg, resume, overwrite, {"--init-from": cfg.init_from})
    policy, tok, _ = load_policy(cfg.init_from)
    policy, tok = add_chat_tokens(policy, tok)
    path = shipped("prefs_train") if cfg.data == "shipped" else cfg.data
    chosen, rejected = pair_examples(load_preferences(path), tok, policy.config.block_size, path)
    lengths = np.array([sum(mask) for _, mask in chosen], dtype=float)  # the reply's tokens and its <|end|>
    questions = val_questions(cfg, tok)  # checked now, not after training
    policy.to(cfg.device)
    policy.eval()
    ref_c, ref_r = reference_logprobs(policy, chosen), reference_logprobs(policy, rejected)  # pi_ref = the start
    trainer = Trainer(policy, cfg.lr, cfg.max_steps, warmup=10, grad_clip=cfg.grad_clip)
    order = batches(len(chosen), cfg.batch_size, np.random.default_rng(cfg.seed))

    def step(n):
        idx = next(order)
        lp = answer_logprobs(policy, [chosen[i] for i in idx] + [rejected[i] for i in idx])  # (2B,)
        B = len(idx)
        loss = preference_loss(lp[:B], lp[B:], ref_c[idx], ref_r[idx], lengths[idx], cfg.beta, cfg.nll_coef)
        trainer.step(loss, n)
        margin = cfg.beta * ((lp.numpy()[:B] - ref_c[idx]) - (lp.numpy()[B:] - ref_r[idx]))
        return {
            "loss": loss.item(),
            "reward_margin": float(margin.mean()),
            "reward_accuracy": float((margin > 0).mean()),
        }

    log(
        f"dpo: {len(chosen)} pairs from {path}; {cfg.max_steps} steps of {cfg.batch_size}, beta {cfg.beta}, on {cfg.device}"
    )
    last = fit(Stage("dpo", cfg, policy, tok, trainer, step, {"order": order}), resume, log)
    summary = {"stage": "dpo", "loss": last.get("loss"), "seconds": round(time.time() - t0, 1)}
    if questions:
        summary["accuracy"] = finish(cfg.out_dir, cfg.max_steps, lambda: held_out(policy, tok, questions, log))
    return summary
