"""Stochastic gradient descent with momentum, same semantics as torch.optim.SGD."""

import numbers

from ..backend import get_array_module
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum and L2 weight decay.

    For each parameter ``p`` with gradient ``g`` (as torch.optim.SGD with
    ``dampening=0``)::

        d = g + weight_decay * p           # L2 penalty, folded into the gradient
        b = d                  (first step)
        b = momentum * b + d   (later steps)
        d = d + momentum * b   if nesterov else  b      (only if momentum != 0)
        p = p - lr * d

    Note the weight decay here is plain L2 regularisation: it goes through
    the momentum. For decoupled decay use :class:`AdamW`.
    """

    _array_state = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        for name in ("momentum", "weight_decay"):
            v = group[name]
            if not isinstance(v, numbers.Real) or not v >= 0.0:
                raise ValueError(f"invalid {name}: {v!r} (must be a number >= 0)")
        if group["nesterov"] and group["momentum"] == 0:
            raise ValueError("nesterov momentum requires momentum > 0")

    def _update(self, group, p, g, state):
        xp = get_array_module(p.data)
        lr, mom, wd = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        s = self._scratch_for(p)
        d = g  # never modify g: the gradient belongs to the caller
        if wd != 0.0:
            xp.multiply(p.data, wd, out=s)
            s += g
            d = s
        if mom != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= mom
                buf += d
            if group["nesterov"]:
                # p -= lr * (d + mom * buf), as two in-place updates (no temporary)
                _add_scaled(xp, p.data, -lr, d, s)
                d, lr = buf, lr * mom
            else:
                d = buf
        _add_scaled(xp, p.data, -lr, d, s)


def _add_scaled(xp, p, alpha, x, scratch):
    """p += alpha * x in place, using ``scratch`` (which may be ``x`` itself)."""
    xp.multiply(x, alpha, out=scratch)
    p += scratch
