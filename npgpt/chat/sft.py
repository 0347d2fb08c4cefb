"""Supervised fine-tuning (SFT): teach a base GPT to answer, by imitating example conversations.

The model, the loss and the optimizer are the ones of pre-training; only the data changes.
Each example is a conversation rendered with the chat template; the targets are the next tokens
with everything but the assistant's reply set to ``ignore_index`` (``data.pad_batch``), so the
loss is the cross-entropy of the answers alone:

    loss = -(1/N) sum over answer tokens t of log p(token_t | tokens before t)

A base model from ``npgpt train`` gets the chat tokens first (``model.add_chat_tokens``).
The loop, the run folder, ``--resume`` and Ctrl-C are the shared ones of ``loop.fit``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..settings import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, SEED, device_setting, setting
from .common import Trainer
from .data import batches, encode_all, load_conversations, pad_batch, shipped
from .evaluate import held_out, val_questions
from .loop import Stage, begin, finish, fit
from .model import add_chat_tokens, load_policy


@dataclass
class SFTConfig:
    init_from: str = setting("runs/shakespeare/checkpoint", "checkpoint to start from (a base or chat model)")
    data: str = setting("shipped", "JSONL of conversations ('shipped' = npgpt/data/chat_train.jsonl)")
    val_data: str = setting("shipped", "held-out questions for the accuracy at the end ('shipped' = chat_val.jsonl)")
    out_dir: str = setting("runs/sft", "folder for the checkpoint and log.jsonl")
    max_steps: int = setting(1500, "optimizer steps", POSITIVE_INT)
    batch_size: int = setting(16, "conversations per step", POSITIVE_INT)
    lr: float = setting(2e-3, "peak learning rate (warmup, then cosine decay to a tenth)", POSITIVE)
    weight_decay: float = setting(0.0, "AdamW weight decay", NON_NEGATIVE)
    grad_clip: float = setting(1.0, "clip the global gradient norm (0 = off)", NON_NEGATIVE)
    eval_questions: int = setting(100, "held-out questions to grade at the end (0 = none)", NON_NEGATIVE_INT)
    eval_interval: int = setting(100, "log the loss and save a checkpoint every this many steps", POSITIVE_INT)
    seed: int = setting(1337, "seed for the order of the examples", SEED)
    device: str = device_setting()
    progress: bool = setting(True, "show a progress bar")


def sft(cfg: SFTConfig, log=print, resume=False, overwrite=False):
    """Fine-tune per ``cfg``; returns a summary dict (final loss, accuracy, seconds).

    A run folder holding a checkpoint needs ``resume`` (continue it) or ``overwrite`` (replace it).
    """
    t0 = time.time()
    begin(cfg, resume, overwrite, {"--init-from": cfg.init_from})
    path = shipped("chat_train") if cfg.data == "shipped" else cfg.data
    model, tok, _ = load_policy(cfg.init_from)
    model, tok = add_chat_tokens(model, tok)
    examples = encode_all(load_conversations(path), tok, model.config.block_size, path)
    questions = val_questions(cfg, tok)  # checked now, not after training
    model.to(cfg.device)
    trainer = Trainer(model, cfg.lr, cfg.max_steps, warmup=50, weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip)
    order = batches(len(examples), cfg.batch_size, np.random.default_rng(cfg.seed))

    def step(n):
        x, y = pad_batch([examples[i] for i in next(order)])
        _, loss = model(x, y)  # cross-entropy over the answer tokens only (the rest is ignore_index)
        trainer.step(loss, n)
        return {"loss": loss.item()}

    log(f"sft: {len(examples)} conversations from {path}; {cfg.max_steps} steps of {cfg.batch_size} on {cfg.device}")
    last = fit(Stage("sft", cfg, model, tok, trainer, step, {"order": order}), resume, log)
    summary = {"stage": "sft", "loss": last.get("loss"), "seconds": round(time.time() - t0, 1)}
    if questions:
        summary["accuracy"] = finish(cfg.out_dir, cfg.max_steps, lambda: held_out(model, tok, questions, log))
    return summary
