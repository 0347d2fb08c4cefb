"""The reward model: a GPT that reads a conversation and says how good the last reply is.

InstructGPT's second step. People compared pairs of replies; the reward model r(prompt, reply)
is trained so that the preferred reply scores higher, with the Bradley-Terry model of a
comparison, P(chosen preferred to rejected) = sigmoid(r_chosen - r_rejected):

    loss = -(1/B) sum_b log sigmoid(r(chosen_b) - r(rejected_b))

Only differences of rewards are learned (adding a constant to every reward changes nothing).
The trunk starts from the SFT model (as in InstructGPT); the scalar head reads the hidden state
at the reply's ``<|end|>`` (``model.RewardModel``). Its measure: pairwise accuracy, the fraction
of held-out pairs where the chosen reply gets the higher reward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..settings import NON_NEGATIVE, POSITIVE, POSITIVE_INT, SEED, device_setting, setting
from .common import Trainer
from .data import batches, load_preferences, pad_ids, pair_examples, shipped
from .loop import Stage, begin, finish, fit
from .model import RewardModel, add_chat_tokens, load_policy


@dataclass
class RewardConfig:
    init_from: str = setting("runs/sft/checkpoint", "checkpoint whose trunk starts the reward model (the SFT model)")
    data: str = setting("shipped", "JSONL of preference pairs ('shipped' = npgpt/data/prefs_train.jsonl)")
    val_data: str = setting("shipped", "held-out pairs for the accuracy ('shipped' = prefs_val.jsonl)")
    out_dir: str = setting("runs/reward", "folder for the checkpoint and log.jsonl")
    max_steps: int = setting(200, "optimizer steps", POSITIVE_INT)
    batch_size: int = setting(16, "pairs per step", POSITIVE_INT)
    lr: float = setting(5e-4, "peak learning rate", POSITIVE)
    grad_clip: float = setting(1.0, "clip the global gradient norm (0 = off)", NON_NEGATIVE)
    eval_interval: int = setting(25, "log the loss and save a checkpoint every this many steps", POSITIVE_INT)
    seed: int = setting(1337, "seed for the order of the pairs", SEED)
    device: str = device_setting()
    progress: bool = setting(True, "show a progress bar")


def rewards(rm, examples, batch_size=64):
    """r for each (ids, mask) example, without a graph: (N,) array."""
    out = []
    with no_grad():
        for i in range(0, len(examples), batch_size):
            ids, last = pad_ids(examples[i : i + batch_size])
            out.append(rm(ids, last).numpy())
    return np.concatenate(out)


def pairwise_accuracy(rm, chosen, rejected):
    """Fraction of pairs whose chosen reply gets the higher reward."""
    return float(np.mean(rewards(rm, chosen) > rewards(rm, rejected)))


def train_reward(cfg: RewardConfig, log=print, resume=False, overwrite=False):
    """Train per ``cfg``; returns a summary dict (final loss, held-out pairwise accuracy, seconds)."""
    t0 = time.time()
    begin(cfg, resume, overwrite, {"--init-from": cfg.init_from})
    policy, tok, _ = load_policy(cfg.init_from)
    policy, tok = add_chat_tokens(policy, tok)
    rm = RewardModel(policy.config, dtype=next(iter(policy.parameters())).dtype)
    rm.gpt.load_state_dict(policy.state_dict())
    block = policy.config.block_size
    paths = {k: shipped(f"prefs_{k}") if v == "shipped" else v for k, v in (("train", cfg.data), ("val", cfg.val_data))}
    chosen, rejected = pair_examples(load_preferences(paths["train"]), tok, block, paths["train"])
    val_c, val_r = pair_examples(load_preferences(paths["val"]), tok, block, paths["val"])
    rm.to(cfg.device)
    trainer = Trainer(rm, cfg.lr, cfg.max_steps, warmup=10, grad_clip=cfg.grad_clip)
    order = batches(len(chosen), cfg.batch_size, np.random.default_rng(cfg.seed))

    def step(n):
        idx = next(order)
        ids, last = pad_ids([chosen[i] for i in idx] + [rejected[i] for i in idx])  # one batch of 2B
        r = rm(ids, last)
        B = len(idx)
        loss = F.bradley_terry_loss(r[:B], r[B:])
        trainer.step(loss, n)
        return {"loss": loss.item(), "batch_accuracy": float((r.numpy()[:B] > r.numpy()[B:]).mean())}

    log(f"reward: {len(chosen)} pairs from {paths['train']}; {cfg.max_steps} steps of {cfg.batch_size} on {cfg.device}")
    last = fit(Stage("reward", cfg, rm, tok, trainer, step, {"order": order}), resume, log)
    acc = finish(cfg.out_dir, cfg.max_steps, lambda: _held_out(rm, val_c, val_r, log))
    return {
        "stage": "reward",
        "loss": last.get("loss"),
        "pairwise_accuracy": acc,
        "seconds": round(time.time() - t0, 1),
    }


def _held_out(rm, val_c, val_r, log):
    rm.eval()
    acc = pairwise_accuracy(rm, val_c, val_r)
    log(f"held-out pairwise accuracy: {acc:.1%} ({len(val_c)} pairs)")
    return acc
