"""Pieces every chat-tuning loop shares: the optimizer, one update, the log."""

from __future__ import annotations

import json
from pathlib import Path

from ..optim import AdamW, CosineWarmup, clip_grad_norm_, param_groups_for_weight_decay, set_lr


class Trainer:
    """AdamW with warmup + cosine decay and gradient clipping: ``step(loss)`` is one update."""

    def __init__(self, model, lr, steps, warmup=10, weight_decay=0.0, grad_clip=1.0):
        groups = param_groups_for_weight_decay(model.named_parameters(), weight_decay)
        self.opt = AdamW(groups, lr=lr, betas=(0.9, 0.99))
        self.params = [p for g in groups for p in g["params"]]
        self.schedule = CosineWarmup(lr, min(warmup, steps - 1), steps, lr / 10)
        self.grad_clip, self.t = grad_clip, 0

    def step(self, loss):
        set_lr(self.opt, self.schedule(self.t))
        self.opt.zero_grad()
        loss.backward()
        if self.grad_clip > 0:
            clip_grad_norm_(self.params, self.grad_clip)
        self.opt.step()
        self.t += 1


class Log:
    """Appends one JSON line per record to ``out_dir/log.jsonl`` (started afresh) and prints it."""

    def __init__(self, out_dir, echo=print):
        self.path = Path(out_dir) / "log.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")
        self.echo = echo

    def __call__(self, record: dict, text: str | None = None):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.echo and text:
            self.echo(text)
