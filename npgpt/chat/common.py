"""Pieces every chat-tuning loop shares: the optimizer and one update, checked for NaN."""

from __future__ import annotations

from ..optim import AdamW, CosineWarmup, clip_grad_norm_, param_groups_for_weight_decay, set_lr
from ..runs import check_finite


class Trainer:
    """AdamW with warmup + cosine decay and gradient clipping: ``step(loss, at)`` is one update.

    The loss and the gradient norm are checked before the weights change: a NaN or an infinity
    stops the run (``npgpt.runs.NonFiniteError`` naming step ``at``) and never reaches the model.
    ``t`` counts the updates (several per step in RL); it is saved with the optimizer's state.
    """

    def __init__(self, model, lr, steps, warmup=10, weight_decay=0.0, grad_clip=1.0):
        groups = param_groups_for_weight_decay(model.named_parameters(), weight_decay)
        self.opt = AdamW(groups, lr=lr, betas=(0.9, 0.99))
        self.params = [p for g in groups for p in g["params"]]
        self.schedule = CosineWarmup(lr, min(warmup, steps - 1), steps, lr / 10)
        self.grad_clip, self.t = grad_clip, 0

    def step(self, loss, at):
        check_finite("loss", loss.item(), at)
        set_lr(self.opt, self.schedule(self.t))
        self.opt.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(self.params, self.grad_clip if self.grad_clip > 0 else float("inf"))
        check_finite("gradient norm", norm, at)  # clip_grad_norm_ leaves non-finite gradients as they are
        self.opt.step()
        self.t += 1
