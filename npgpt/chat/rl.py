"""RL after SFT: REINFORCE with a leave-one-out baseline (RLOO), PPO's clip, a per-token KL penalty.

InstructGPT's third step, done more simply. Each step:

1. sample: for P prompts, k replies each from the policy (temperature 1, stop at ``<|end|>``);
2. score each reply, one of two ways (``--reward``):
   * ``model``: the learned reward model's score s (minus a penalty if the reply never stopped);
   * ``checker``: the task's own grade (``tasks.checker_reward``): s = 1 for a correct reply in
     format, 0 for "I don't know.", ``wrong_reward`` (0, or -1 to make abstaining pay) for
     anything else. No reward model: the reward a program checks ("verifiable rewards", as in
     nanochat's RL on GSM8K and DeepSeek-R1);
3. advantages, with the KL penalty per token (``kl_penalized_advantages``):
       A_t = (s - baseline) - kl_coef * sum_{u >= t} (log pi(y_u) - log pi_sft(y_u))
   the baseline of a reply is the mean score of the other k - 1 replies to the same prompt
   (leave one out, as in RLOO; not divided by the group's standard deviation, as GRPO does);
4. update: ``ppo_epochs`` gradient steps on PPO's clipped objective (``ppo_clipped_loss``).

There is no value function: the group of replies to one prompt is the baseline.

Why the KL penalty. The reward model was trained on replies like the SFT model's; far from them
its scores mean little, and a policy that maximises them alone finds replies the reward model
overrates ("reward hacking"). Paying kl_coef per nat of log(pi / pi_sft) keeps the policy near
the SFT model, where the reward can be trusted. The penalty goes into the reward, not into the
loss as a term of its own: the replies are sampled from pi, and a sampled log-ratio
log pi(y) - log pi_sft(y) differentiated on fixed samples has expected gradient
E[grad log pi(y)] = 0, so it would not pull towards pi_sft at all. As part of the return it is
weighted by grad log pi(y) like any reward (the score-function gradient), which does. A checked
reward cannot be hacked that way, so the checker runs may use a smaller kl_coef.

REINFORCE against PPO. With ``ppo_epochs=1`` the ratio r = pi / pi_old is 1 at the only update
and the clipped objective's gradient is exactly REINFORCE with a baseline: A_t grad log pi(y_t).
PPO's clip matters from the second pass over the same samples on: once r leaves [1 - eps, 1 + eps]
in the direction the advantage favours, that token's gradient is cut, a trust region that lets
one batch of samples be reused without pushing the policy too far. (InstructGPT used PPO with a
learned value function as the baseline, a second network; here the baseline is the other
replies' mean, as in RLOO, which needs none.)

Learning to abstain. The SFT model never says "I don't know." (no demonstration does), so it
never samples it and RL could never reward it. ``idk_mix`` writes it in: each sampled reply is
replaced by "I don't know." with that chance, and scored and weighted like the others. Those
replies are not samples of pi, so their term is not the policy gradient (it is what an
off-policy demonstration with an advantage weight does): it raises "I don't know." on prompts
where the other replies scored below 0 and lowers it where they scored above.
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
    FRACTION,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    SEED,
    Range,
    device_setting,
    setting,
)
from .common import Trainer
from .data import read_questions, shipped
from .evaluate import held_out, sample_batch, val_questions
from .loop import Stage, begin, finish, fit
from .model import add_chat_tokens, load_policy, load_reward_model
from .tasks import ABSTAINED, CORRECT, IDK, checker_reward, outcome
from .template import END, chat_token_ids, render


@dataclass
class RLConfig:
    init_from: str = setting("runs/sft/checkpoint", "the SFT model: start of the policy and the KL reference")
    reward: str = setting(
        "model",
        "what scores a reply: the reward model, or the checker (the task's grade: 1 correct, 0 abstained, "
        "--wrong-reward otherwise)",
        choices=("model", "checker"),
    )
    reward_model: str = setting(
        "runs/reward/checkpoint", "reward model checkpoint (from `npgpt reward`; --reward model)"
    )
    wrong_reward: float = setting(
        0.0, '--reward checker: the reward of a wrong reply (-1 makes "I don\'t know." pay)', Range(float, -1.0, 0.0)
    )
    idk_mix: float = setting(
        0.0, 'chance that a sampled reply is replaced by "I don\'t know." (written in, so it can be learned)', FRACTION
    )
    data: str = setting(
        "shipped",
        "JSONL of conversations whose user turns are the prompts ('shipped' = chat_rl: questions SFT never saw)",
    )
    val_data: str = setting("shipped", "held-out questions for the accuracy at the end ('shipped' = chat_val)")
    out_dir: str = setting("runs/rl", "folder for the checkpoint and log.jsonl")
    max_steps: int = setting(60, "RL steps (sample, score, update)", POSITIVE_INT)
    prompts: int = setting(4, "prompts per step", POSITIVE_INT)
    samples: int = setting(
        4, "replies sampled per prompt (the baseline is the mean of the others; 1: no baseline)", POSITIVE_INT
    )
    max_new_tokens: int = setting(40, "longest reply", POSITIVE_INT)
    temperature: float = setting(1.0, "sampling temperature of the replies", POSITIVE)
    kl_coef: float = setting(0.2, "reward paid per nat of log(pi / pi_sft), per token", NON_NEGATIVE)
    clip_eps: float = setting(0.2, "PPO clip range", PROBABILITY)
    ppo_epochs: int = setting(2, "gradient steps per batch of samples (1 = REINFORCE with a baseline)", POSITIVE_INT)
    missing_end_penalty: float = setting(
        1.0, "--reward model: subtracted from the score of a reply that never ends its turn", NON_NEGATIVE
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
    With one reply per prompt there are no others: the baseline is 0 (plain REINFORCE).
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


def write_in(reply, lengths, stopped, rows, ids, room):
    """Replace the sampled replies of ``rows`` by the token ids ``ids`` (ending with ``<|end|>``).

    reply (B, N) grows to len(ids) columns if it is shorter (padded with ``ids[-1]``, the end
    token); a reply is written in only where the context has ``room`` for it. Returns reply.
    """
    rows = [b for b in rows if len(ids) <= room]
    if not rows:
        return reply
    if reply.shape[1] < len(ids):
        reply = np.concatenate([reply, np.full((len(reply), len(ids) - reply.shape[1]), ids[-1])], axis=1)
    reply[rows] = ids[-1]
    reply[rows, : len(ids)] = ids
    lengths[rows], stopped[rows] = len(ids), True
    return reply


def rollout(policy, ref, rm, tok, items, cfg, rng):
    """Sample, score and grade replies to ``items`` (each repeated ``cfg.samples`` times).

    ``rm`` None: the checker scores them (``tasks.checker_reward``). With ``cfg.idk_mix``, each
    reply is replaced by "I don't know." with that chance before it is scored.
    """
    end = chat_token_ids(tok)[END]
    prompts = np.array([ids for ids, _, _ in items for _ in range(cfg.samples)], dtype=np.int64)
    P = prompts.shape[1]
    policy.eval()  # sample and score as the chat model will: no dropout
    with no_grad():
        reply, lengths, stopped = sample_batch(policy, prompts, cfg.max_new_tokens, end, cfg.temperature, rng=rng)
        if cfg.idk_mix > 0:
            rows = np.flatnonzero(rng.random(len(prompts)) < cfg.idk_mix)
            idk = np.array([*tok.encode(IDK), end], dtype=np.int64)
            reply = write_in(reply, lengths, stopped, rows, idk, policy.config.block_size - P)
        full = np.concatenate([prompts, reply], axis=1)
        x, targets = full[:, :-1], full[:, 1:]
        mask = np.zeros(targets.shape, dtype=bool)
        for b, n in enumerate(lengths):
            mask[b, P - 1 : P - 1 + n] = True  # targets P-1 .. P-2+n are the reply's tokens
        old_logp = F.token_logprobs(policy(x)[0], targets).numpy()
        ref_logp = F.token_logprobs(ref(x)[0], targets).numpy()
        texts = [tok.decode([int(t) for t in reply[b, : lengths[b] - int(stopped[b])]]) for b in range(len(reply))]
        asked = [(task, gold) for _, task, gold in items for _ in range(cfg.samples)]
        outcomes = [outcome(t, text, g, bool(s)) for (t, g), text, s in zip(asked, texts, stopped)]
        if rm is None:
            scores = np.array(
                [checker_reward(t, x_, g, bool(s), cfg.wrong_reward) for (t, g), x_, s in zip(asked, texts, stopped)]
            )
        else:
            last = P + np.maximum(lengths, 1) - 1  # the reply's last token: its <|end|> if it stopped
            scores = rm(full, last).numpy() - cfg.missing_end_penalty * ~stopped
    rates = {k: float(np.mean([o == k for o in outcomes])) for k in (CORRECT, ABSTAINED)}
    return x, targets, mask, old_logp, ref_logp, scores, rates


def rl(cfg: RLConfig, log=print, resume=False, overwrite=False):
    """Train per ``cfg``; returns a summary dict (last reward and KL, accuracy, seconds)."""
    t0 = time.time()
    checker = cfg.reward == "checker"
    begin(
        cfg,
        resume,
        overwrite,
        {"--init-from": cfg.init_from, **({} if checker else {"--reward-model": cfg.reward_model})},
    )
    policy, tok = add_chat_tokens(*load_policy(cfg.init_from)[:2])
    ref, _ = add_chat_tokens(*load_policy(cfg.init_from)[:2])  # pi_sft: the start, with the same new rows
    rm = None
    if not checker:
        rm, rm_tok = load_reward_model(cfg.reward_model)
        _check_reward_model(rm, rm_tok, policy, tok, cfg)
    path = shipped("chat_rl") if cfg.data == "shipped" else cfg.data
    buckets = _prompt_buckets(read_questions(path), tok, policy.config.block_size, path)
    questions = val_questions(cfg, tok)  # checked now, not after training
    for m in (m for m in (policy, ref, rm) if m is not None):
        m.to(cfg.device)
        m.eval()  # the policy samples and scores in eval mode; only its update trains (step)
    lengths = sorted(buckets)
    weights = np.array([len(buckets[n]) for n in lengths], dtype=float)
    rng = np.random.default_rng(cfg.seed)
    trainer = Trainer(policy, cfg.lr, cfg.max_steps * cfg.ppo_epochs, warmup=0, grad_clip=1.0)

    def step(n):
        bucket = buckets[lengths[rng.choice(len(lengths), p=weights / weights.sum())]]
        items = [bucket[i] for i in rng.integers(0, len(bucket), cfg.prompts)]
        x, targets, mask, old_logp, ref_logp, scores, rates = rollout(policy, ref, rm, tok, items, cfg, rng)
        adv = kl_penalized_advantages(scores, old_logp, ref_logp, mask, cfg.kl_coef, cfg.samples)
        policy.train()
        for _ in range(cfg.ppo_epochs):
            logp = F.token_logprobs(policy(x)[0], targets)
            loss = F.ppo_clipped_loss(logp, old_logp, adv, mask, clip_eps=cfg.clip_eps)
            trainer.step(loss, n)
        kl = float(((old_logp - ref_logp) * mask).sum(axis=1).mean())
        return {
            "reward": float(scores.mean()),
            "kl": kl,
            "accuracy": rates[CORRECT],
            "abstained": rates[ABSTAINED],
            "loss": loss.item(),
        }

    log(
        f"rl: {'checker' if checker else 'reward model'} rewards, prompts from {path}; {cfg.max_steps} steps of {cfg.prompts} prompts x {cfg.samples} replies "
        f"on {cfg.device}"
    )
    last = fit(Stage("rl", cfg, policy, tok, trainer, step, {"rng": rng}), resume, log)
    summary = {"stage": "rl", "reward": last.get("reward"), "kl": last.get("kl"), "seconds": round(time.time() - t0, 1)}
    if questions:
        summary["accuracy"] = finish(cfg.out_dir, cfg.max_steps, lambda: held_out(policy, tok, questions, log))
    return summary
