"""Learning-rate schedule: linear warmup, then cosine decay (as nanoGPT)."""

import math
import numbers


class CosineWarmup:
    """``sched(step) -> lr`` for step = 0, 1, 2, ...::

    ### BEGIN SOLUTION 5.2
        step <  warmup_steps:  lr = max_lr * (step + 1) / warmup_steps
        step <= max_steps:     r  = (step - warmup_steps) / (max_steps - warmup_steps)
                               lr = min_lr + 0.5 * (1 + cos(pi * r)) * (max_lr - min_lr)
        step >  max_steps:     lr = min_lr
    ### END SOLUTION 5.2

    Warmup keeps the first updates small while Adam's second-moment
    estimates are still noisy; the cosine then anneals from ``max_lr`` to
    ``min_lr`` (default ``max_lr / 10``). Apply it with :func:`set_lr`.
    """

    def __init__(self, max_lr, warmup_steps, max_steps, min_lr=None):
        if min_lr is None:
            min_lr = max_lr / 10 if isinstance(max_lr, numbers.Real) else max_lr
        for name, v in (("max_lr", max_lr), ("min_lr", min_lr)):
            if not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"invalid {name}: {v!r} (must be a finite number >= 0)")
        if min_lr > max_lr:
            raise ValueError(f"min_lr ({min_lr}) must not exceed max_lr ({max_lr})")
        for name, v in (("warmup_steps", warmup_steps), ("max_steps", max_steps)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
                raise ValueError(f"invalid {name}: {v!r} (must be an integer >= 0)")
        if max_steps <= warmup_steps:
            raise ValueError(f"max_steps ({max_steps}) must be greater than warmup_steps ({warmup_steps})")
        self.max_lr, self.min_lr = float(max_lr), float(min_lr)
        self.warmup_steps, self.max_steps = int(warmup_steps), int(max_steps)

    def __call__(self, step):
        if not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"invalid step: {step!r} (must be an integer >= 0)")
        ### BEGIN SOLUTION 5.2
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        if step > self.max_steps:
            return self.min_lr
        ratio = (step - self.warmup_steps) / (self.max_steps - self.warmup_steps)
        coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
        return self.min_lr + coeff * (self.max_lr - self.min_lr)
        ### END SOLUTION 5.2

    def __repr__(self):
        return (
            f"CosineWarmup(max_lr={self.max_lr}, warmup_steps={self.warmup_steps}, "
            f"max_steps={self.max_steps}, min_lr={self.min_lr})"
        )


def set_lr(optimizer, lr):
    """Set the learning rate of every param group: ``set_lr(opt, sched(step))``."""
    if not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"invalid learning rate: {lr!r} (must be a finite number >= 0)")
    for group in optimizer.param_groups:
        group["lr"] = float(lr)
