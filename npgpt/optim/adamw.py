"""Adam with decoupled weight decay, same numbers as torch.optim.AdamW."""

import math
import numbers

from ..backend import get_array_module
from .optimizer import Optimizer


class AdamW(Optimizer):
    """AdamW (Loshchilov & Hutter, 2019), as torch.optim.AdamW.

    For each parameter ``p`` with gradient ``g``, at its step ``t = 1, 2, ...``::

    ### BEGIN SOLUTION 5.1
        p = p * (1 - lr * weight_decay)         # decoupled decay: not in m, v
        m = beta1 * m + (1 - beta1) * g         # 1st moment (mean)
        v = beta2 * v + (1 - beta2) * g * g     # 2nd moment (uncentred variance)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - lr / (1 - beta1**t) * m / denom

    ``m`` and ``v`` start at zero, so early on they are biased towards zero;
    dividing by ``1 - beta**t`` (bias correction) undoes that.
    ### END SOLUTION 5.1

    Decay usually applies only to matrices and embeddings, not to biases
    and LayerNorm parameters: build the groups with
    :func:`param_groups_for_weight_decay`.

    Implementation: every operation is in place (``out=``) on the moment
    buffers and on one scratch buffer that all parameters share (it has the
    size of the largest), so a step allocates nothing; float32 stays float32
    (only Python floats are mixed in).
    """

    _array_state = ("exp_avg", "exp_avg_sq")
    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        betas = group["betas"]
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, numbers.Real) and 0.0 <= b < 1.0 for b in betas)
        ):
            raise ValueError(f"invalid betas: {betas!r} (need two numbers in [0, 1))")
        group["betas"] = tuple(betas)
        for name in ("eps", "weight_decay"):
            v = group[name]
            if not isinstance(v, numbers.Real) or not v >= 0.0:
                raise ValueError(f"invalid {name}: {v!r} (must be a number >= 0)")

    def _update(self, group, p, g, state):
        xp = get_array_module(p.data)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        b1, b2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v, s = state["exp_avg"], state["exp_avg_sq"], self._scratch_for(p)

        ### BEGIN SOLUTION 5.1
        if wd != 0.0 and lr != 0.0:
            p.data *= 1.0 - lr * wd
        # m += (1 - b1) * (g - m): torch's m.lerp_(g, 1 - b1)
        xp.subtract(g, m, out=s)
        s *= 1.0 - b1
        m += s
        # v = b2 * v + (1 - b2) * g * g
        v *= b2
        xp.multiply(g, g, out=s)
        s *= 1.0 - b2
        v += s
        if lr == 0.0:
            return  # moments still advance, the parameter does not move
        # p -= step_size * m / (sqrt(v) / sqrt(bc2) + eps), with step_size
        # folded into the denominator: one pass less over memory.
        step_size = lr / (1.0 - b1**t)
        xp.sqrt(v, out=s)
        s *= 1.0 / (math.sqrt(1.0 - b2**t) * step_size)
        s += eps / step_size
        xp.divide(m, s, out=s)
        p.data -= s
        ### END SOLUTION 5.1


def param_groups_for_weight_decay(named_params, weight_decay):
    """Split parameters into a decayed and a non-decayed group (as nanoGPT).

    Parameters with ``data.ndim >= 2`` (matmul weights, embeddings) get
    ``weight_decay``; those with ``ndim < 2`` (biases, LayerNorm gains and
    biases) get 0.0. Why: decay pulls weights towards 0, which regularises
    the big matrices (keeps them from growing just to sharpen logits) but
    for a LayerNorm gain the natural value is 1 and for biases a shift is
    not overfitting capacity, so decaying them only hurts.

    ``named_params`` is an iterable of ``(name, param)``. Returns
    ``[{"params": decay, "weight_decay": weight_decay},
    {"params": no_decay, "weight_decay": 0.0}]``, ready for ``AdamW(...)``.
    """
    decay, no_decay = [], []
    for _, p in named_params:
        (decay if p.data.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
