"""RL from the reward model: a PPO-clipped policy gradient with a leave-one-out baseline (RLOO/GRPO-style).

The per-token KL penalty to the SFT model is InstructGPT's; its value-function PPO is not used (see below).

InstructGPT's third step, done more simply. Each step:

1. sample: for P prompts, k replies each from the policy (temperature 1, stop at ``<|end|>``);
2. score: the reward model gives each reply a score s (minus a penalty if it never stopped);
3. advantages, with the KL penalty per token (``kl_penalized_advantages``):
       A_t = (s - baseline) - kl_coef * sum_{u >= t} (log pi(y_u) - log pi_sft(y_u))
   the baseline of a reply is the mean score of the other k - 1 replies to the same prompt;
4. update: ``ppo_epochs`` gradient steps on PPO's clipped objective (``ppo_clipped_loss``).

Why the KL penalty. The reward model was trained on replies like the SFT model's; far from them
its scores mean little, and a policy that maximises them alone finds replies the reward model
overrates ("reward hacking"). Paying kl_coef per nat of log(pi / pi_sft) keeps the policy near
the SFT model, where the reward can be trusted. The penalty goes into the reward, not into the
loss as a term of its own: the replies are sampled from pi, and a sampled log-ratio
log pi(y) - log pi_sft(y) differentiated on fixed samples has expected gradient
E[grad log pi(y)] = 0, so it would not pull towards pi_sft at all. As part of the return it is
weighted by grad log pi(y) like any reward (the score-function gradient), which does.

REINFORCE against PPO. With ``ppo_epochs=1`` the ratio r = pi / pi_old is 1 at the only update
and the clipped objective's gradient is exactly REINFORCE with a baseline: A_t grad log pi(y_t).
PPO's clip matters from the second pass over the same samples on: once r leaves [1 - eps, 1 + eps]
in the direction the advantage favours, that token's gradient is cut, a trust region that lets
one batch of samples be reused without pushing the policy too far. (InstructGPT used PPO with a
learned value function as the baseline; here the baseline is the other replies' mean, as in RLOO
and GRPO, which needs no second network.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..checkpoint import CheckpointError
from ..data import DataError
from ..settings import (
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    SEED,
    device_setting,
    setting,
)
from .common import Trainer
from .data import read_questions, shipped
from .evaluate import held_out, sample_batch, val_questions
from .loop import Stage, begin, finish, fit
from .model import add_chat_tokens, load_policy, load_reward_model
from .tasks import grade
from .template import END, chat_token_ids, render


@dataclass
class RLConfig:
    init_from: str = setting("runs/sft/checkpoint", "the SFT model: start of the policy and the KL reference")
    reward_model: str = setting("runs/reward/checkpoint", "reward model checkpoint (from `npgpt reward`)")
    data: str = setting("shipped", "JSONL of conversations whose user turns are the prompts ('shipped' = chat_train)")
    val_data: str = setting("shipped", "held-out questions for the accuracy at the end ('shipped' = chat_val)")
    out_dir: str = setting("runs/rl", "folder for the checkpoint and log.jsonl")
    max_steps: int = setting(60, "RL steps (sample, score, update)", POSITIVE_INT)
    prompts: int = setting(4, "prompts per step", POSITIVE_INT)
    samples: int = setting(4, "replies sampled per prompt (the baseline is the mean of the others)", POSITIVE_INT)
    max_new_tokens: int = setting(40, "longest reply", POSITIVE_INT)
    temperature: float = setting(1.0, "sampling temperature of the replies", POSITIVE)
    kl_coef: float = setting(0.2, "reward paid per nat of log(pi / pi_sft), per token", NON_NEGATIVE)
    clip_eps: float = setting(0.2, "PPO clip range", PROBABILITY)
    ppo_epochs: int = setting(2, "gradient steps per batch of samples (1 = REINFORCE with a baseline)", POSITIVE_INT)
    missing_end_penalty: float = setting(
        1.0, "subtracted from the score of a reply that never ends its turn", NON_NEGATIVE
    )
    lr: float = setting(1e-4, "learning rate", POSITIVE)
    eval_questions: int = setting(100, "held-out questions to grade at the end (0 = none)", NON_NEGATIVE_INT)
    eval_interval: int = setting(1, "log the step and save a checkpoint every this many steps", POSITIVE_INT)
    seed: int = setting(1337, "seed for prompts and sampling", SEED)
    device: str = device_setting()
    progress: bool = setting(True, "show a progress bar")


def kl_penalized_advantages(scores, logp, ref_logp, mask, kl_coef, samples):
    """Per-token advantages (B, T): score minus baseline, minus the KL still to come.

    scores (B,), with the ``samples`` replies to one prompt in consecutive rows; logp, ref_logp,
    mask (B, T). Baseline of a reply = mean score of the other replies to its prompt (leave one out).
    """
    kl = (logp - ref_logp) * mask  # per-token log(pi / pi_sft) on the reply's tokens
    kl_to_go = np.flip(np.cumsum(np.flip(kl, axis=1), axis=1), axis=1)  # sum over u >= t
    s = scores.reshape(-1, samples)
    baseline = (s.sum(axis=1, keepdims=True) - s) / max(samples - 1, 1)
    return ((s - baseline).reshape(-1, 1) - kl_coef * kl_to_go) * mask


def _prompt_buckets(rows, tok, block_size, path):
    """{prompt length: [(prompt ids, task, gold)]}: equal lengths sample as one batch.

    ``rows`` are ``data.read_questions``'s; a prompt that leaves no room for a reply is an error.
    """
    buckets = {}
    for n, (task, msgs, gold) in rows:
        try:
            ids = render(msgs, tok, add_generation_prompt=True)[0]
        except DataError as e:
            raise DataError(f"{path}:{n}: {e}") from None
        if len(ids) >= block_size:
            raise DataError(
                f"{path}:{n}: the prompt is {len(ids)} tokens, which leaves no room for a reply in the "
                f"model's {block_size}-token context; shorten it or drop it"
            )
        buckets.setdefault(len(ids), []).append((ids, task, gold))
    return buckets


def _check_reward_model(rm, rm_tok, policy, tok, cfg):
    """The reward model must read the policy's tokens: the same tokenizer, vocabulary and room."""
    why = None
    if rm_tok.to_json() != tok.to_json() or rm.gpt.config.vocab_size != policy.config.vocab_size:
        why = "its tokenizer differs from the policy's, so its scores would be of other text"
    elif rm.gpt.config.block_size < policy.config.block_size:
        why = f"its context ({rm.gpt.config.block_size}) is shorter than the policy's ({policy.config.block_size})"
    if why:
        raise CheckpointError(
            f"the reward model {cfg.reward_model} does not fit the policy {cfg.init_from}: {why}; "
            f"train one from this policy's SFT model with `npgpt reward --init-from {cfg.init_from}`"
        )


def rollout(policy, ref, rm, tok, items, cfg, rng):
    """Sample, score and grade replies to ``items`` (each repeated ``cfg.samples`` times)."""
    end = chat_token_ids(tok)[END]
    prompts = np.array([ids for ids, _, _ in items for _ in range(cfg.samples)], dtype=np.int64)
    P = prompts.shape[1]
    with no_grad():
        reply, lengths, stopped = sample_batch(policy, prompts, cfg.max_new_tokens, end, cfg.temperature, rng=rng)
        full = np.concatenate([prompts, reply], axis=1)
        x, targets = full[:, :-1], full[:, 1:]
        mask = np.zeros(targets.shape, dtype=bool)
        for b, n in enumerate(lengths):
            mask[b, P - 1 : P - 1 + n] = True  # targets P-1 .. P-2+n are the reply's tokens
        old_logp = F.token_logprobs(policy(x)[0], targets).numpy()
        ref_logp = F.token_logprobs(ref(x)[0], targets).numpy()
        last = P + np.maximum(lengths, 1) - 1  # the reply's last token: its <|end|> if it stopped
        scores = rm(full, last).numpy() - cfg.missing_end_penalty * ~stopped
    graded = []
    for b, (_, task, gold) in enumerate(i for i in items for _ in range(cfg.samples)):
        text = tok.decode([int(t) for t in reply[b, : lengths[b] - int(stopped[b])]])
        graded.append(grade(task, text, gold, bool(stopped[b]))[0])
    return x, targets, mask, old_logp, ref_logp, scores, float(np.mean(graded))


def rl(cfg: RLConfig, log=print, resume=False, overwrite=False):
    """Train per ``cfg``; returns a summary dict (last reward and KL, accuracy, seconds)."""
    t0 = time.time()
    begin(cfg, resume, overwrite, {"--init-from": cfg.init_from, "--reward-model": cfg.reward_model})
    policy, tok = add_chat_tokens(*load_policy(cfg.init_from)[:2])
    ref, _ = add_chat_tokens(*load_policy(cfg.init_from)[:2])  # pi_sft: the start, with the same new rows
    rm, rm_tok = load_reward_model(cfg.reward_model)
    _check_reward_model(rm, rm_tok, policy, tok, cfg)
    path = shipped("chat_train") if cfg.data == "shipped" else cfg.data
    buckets = _prompt_buckets(read_questions(path), tok, policy.config.block_size, path)
    questions = val_questions(cfg, tok)  # checked now, not after training
    for m in (policy, ref, rm):
        m.to(cfg.device)
    ref.eval()
    rm.eval()
    lengths = sorted(buckets)
    weights = np.array([len(buckets[n]) for n in lengths], dtype=float)
    rng = np.random.default_rng(cfg.seed)
    trainer = Trainer(policy, cfg.lr, cfg.max_steps * cfg.ppo_epochs, warmup=0, grad_clip=1.0)

    def step(n):
        bucket = buckets[lengths[rng.choice(len(lengths), p=weights / weights.sum())]]
        items = [bucket[i] for i in rng.integers(0, len(bucket), cfg.prompts)]
        x, targets, mask, old_logp, ref_logp, scores, acc = rollout(policy, ref, rm, tok, items, cfg, rng)
        adv = kl_penalized_advantages(scores, old_logp, ref_logp, mask, cfg.kl_coef, cfg.samples)
        policy.train()
        for _ in range(cfg.ppo_epochs):
            logp = F.token_logprobs(policy(x)[0], targets)
            loss = F.ppo_clipped_loss(logp, old_logp, adv, mask, clip_eps=cfg.clip_eps)
            trainer.step(loss, n)
        kl = float(((old_logp - ref_logp) * mask).sum(axis=1).mean())
        return {"reward": float(scores.mean()), "kl": kl, "accuracy": acc, "loss": loss.item()}

    log(
        f"rl: prompts from {path}; {cfg.max_steps} steps of {cfg.prompts} prompts x {cfg.samples} replies "
        f"on {cfg.device}"
    )
    last = fit(Stage("rl", cfg, policy, tok, trainer, step, {"rng": rng}), resume, log)
    summary = {"stage": "rl", "reward": last.get("reward"), "kl": last.get("kl"), "seconds": round(time.time() - t0, 1)}
    if questions:
        summary["accuracy"] = finish(cfg.out_dir, cfg.max_steps, lambda: held_out(policy, tok, questions, log))
    return summary
