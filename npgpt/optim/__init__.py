"""Optimizers, learning-rate schedule and gradient clipping (torch.optim names)."""

from .adamw import AdamW, param_groups_for_weight_decay
from .clip import clip_grad_norm_
from .optimizer import Optimizer
from .schedule import CosineWarmup, set_lr
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "AdamW", "CosineWarmup", "set_lr", "clip_grad_norm_", "param_groups_for_weight_decay"]
