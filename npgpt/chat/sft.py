"""Supervised fine-tuning (SFT): teach a base GPT to answer, by imitating example conversations.

The model, the loss and the optimizer are the ones of pre-training; only the data changes.
Each example is a conversation rendered with the chat template; the targets are the next tokens
with everything but the assistant's reply set to ``ignore_index`` (``data.pad_batch``), so the
loss is the cross-entropy of the answers alone:

    loss = -(1/N) sum over answer tokens t of log p(token_t | tokens before t)

A base model from ``npgpt train`` gets the chat tokens first (``model.add_chat_tokens``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..settings import device_setting, setting
from .common import Log, Trainer
from .data import batches, encode_all, load_conversations, pad_batch, shipped
from .evaluate import accuracy, load_questions
from .model import add_chat_tokens, load_policy, save


@dataclass
class SFTConfig:
    init_from: str = setting("runs/shakespeare/checkpoint", "checkpoint to start from (a base or chat model)")
    data: str = setting("shipped", "JSONL of conversations ('shipped' = npgpt/data/chat_train.jsonl)")
    val_data: str = setting("shipped", "held-out questions for the accuracy at the end ('shipped' = chat_val.jsonl)")
    out_dir: str = setting("runs/sft", "folder for the checkpoint and log.jsonl")
    steps: int = setting(1500, "optimizer steps")
    batch_size: int = setting(16, "conversations per step")
    lr: float = setting(2e-3, "peak learning rate (warmup, then cosine decay to a tenth)")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    grad_clip: float = setting(1.0, "clip the global gradient norm (0 = off)")
    eval_questions: int = setting(100, "held-out questions to grade at the end (0 = none)")
    log_every: int = setting(100, "print the loss every this many steps")
    seed: int = setting(1337, "seed for the order of the examples")
    device: str = device_setting()


def sft(cfg: SFTConfig, log=print):
    """Fine-tune per ``cfg``; returns a summary dict (final loss, accuracy, seconds, checkpoint path)."""
    t0 = time.time()
    path = shipped("chat_train") if cfg.data == "shipped" else cfg.data
    model, tok, _ = load_policy(cfg.init_from)
    model, tok = add_chat_tokens(model, tok)
    model.to(cfg.device)
    examples = encode_all(load_conversations(path), tok, model.config.block_size, path)
    out = Path(cfg.out_dir)
    record = Log(out, log)
    trainer = Trainer(model, cfg.lr, cfg.steps, warmup=50, weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip)
    order = batches(len(examples), cfg.batch_size, np.random.default_rng(cfg.seed))
    log(f"sft: {len(examples)} conversations from {path}; {cfg.steps} steps of {cfg.batch_size} on {cfg.device}")
    model.train()
    for step in range(1, cfg.steps + 1):
        x, y = pad_batch([examples[i] for i in next(order)])
        _, loss = model(x, y)  # cross-entropy over the answer tokens only (the rest is ignore_index)
        trainer.step(loss)
        if step % cfg.log_every == 0 or step == cfg.steps:
            record({"step": step, "loss": loss.item()}, f"step {step}: answer loss {loss.item():.4f}")
    summary = {"stage": "sft", "loss": loss.item(), "seconds": round(time.time() - t0, 1)}
    save(out / "checkpoint", model, tok, "sft", cfg, state={"step": cfg.steps})
    summary.update(_held_out(model, tok, cfg, log))
    return summary


def _held_out(model, tok, cfg, log):
    if cfg.eval_questions <= 0:
        return {}
    path = shipped("chat_val") if cfg.val_data == "shipped" else cfg.val_data
    model.eval()
    acc = accuracy(model, tok, load_questions(path, cfg.eval_questions))
    log(f"held-out: {acc['correct']:.1%} correct, {acc['format']:.1%} in format and stopped ({acc['n']} questions)")
    return {"accuracy": acc}
