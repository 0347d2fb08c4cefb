"""Per-layer diagnostics of a GPT in training: activations, gradients, update-to-weight ratios.

The tools of Karpathy's makemore part 3, for npgpt's GPT. Each is recorded only on the steps you
ask for, so a run pays for them only there:

    activations  per block, the MLP's pre-activation u = c_fc(ln_2(x)), the GELU's input:
                 mean, std and the dead share P(u < -3). Below -3, GELU'(u) = Phi(u) + u phi(u)
                 is under 0.012 in size (and falls fast), so such a unit passes back almost no
                 gradient: GELU's analogue of a saturated tanh. Also the std of the residual
                 stream leaving the block.
    gradients    per parameter: std(grad), std(grad) / std(w) and ||grad||.
    updates      per parameter: the update-to-weight ratio
                     log10( std(w_after - w_before) / std(w_before) ),
                 measured by diffing the weights around ``optimizer.step()``, so it is the step
                 actually taken by any optimizer (AdamW's step is not lr * grad).

Rule of thumb (Karpathy): update ratios near 1e-3 (log10 = -3) learn at a healthy pace; much
larger and each step rewrites a visible part of the weights (the lr is too high), much smaller
and they barely move.

    diag = Diagnostics(model)                      # tracks the 2-D weights by default
    for step in range(steps):
        watch = step % 10 == 0
        with diag.activations(step, enabled=watch):
            _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        if watch:
            diag.record_gradients(step)
        with diag.updates(step, enabled=watch):
            opt.step()

Statistics are Python floats (computed in float64 on whatever device the arrays live on); the
last watched pre-activations of each layer are kept on the CPU in ``diag.preactivations`` for
histograms.
"""

from __future__ import annotations

import math
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from typing import NamedTuple

import numpy as np

from .backend import to_device
from .tensor import array_of

DEAD_BELOW = -3.0  # a GELU input below this passes back less than 1.2% of the gradient


class ActivationStats(NamedTuple):
    step: int
    mean: float  # of the GELU's input u
    std: float
    dead: float  # share of u below DEAD_BELOW
    stream_std: float  # std of the residual stream leaving the block


class GradientStats(NamedTuple):
    step: int
    std: float  # std(grad)
    ratio: float  # std(grad) / std(w)
    norm: float  # ||grad||, the Frobenius norm


class UpdateStats(NamedTuple):
    step: int
    log10_ratio: float  # log10(std(w_after - w_before) / std(w_before))


def _std(a):
    return float(a.std(dtype="float64"))


def _log10_ratio(num, den):
    """log10(num / den): nan for a zero weight (no scale to compare with), -inf for no update."""
    if den == 0:
        return float("nan")
    return math.log10(num / den) if num > 0 else float("-inf")


@contextmanager
def _after_forward(module, record):
    """While open, ``module(x, ...)`` also calls ``record(x, y)`` with its input and output."""
    inner = module.forward

    def forward(x, *args, **kwargs):
        y = inner(x, *args, **kwargs)
        record(x, y)
        return y

    object.__setattr__(module, "forward", forward)  # an instance attribute shadows the method
    try:
        yield
    finally:
        object.__delattr__(module, "forward")


class Diagnostics:
    """Records per-layer statistics of ``model`` (a ``GPT``) on the steps it is asked to.

    ``params``: the parameter names to track for gradients and updates (default: every 2-D
    weight, the matrices and embeddings, as in makemore). Results, keyed by block index or
    parameter name: ``acts[i]`` (ActivationStats), ``grads[name]`` (GradientStats),
    ``update_ratios[name]`` (UpdateStats), each a list in step order.
    """

    def __init__(self, model, params=None):
        self.model = model
        named = dict(model.named_parameters())
        names = [n for n, p in named.items() if p.data.ndim == 2] if params is None else list(params)
        unknown = [n for n in names if n not in named]
        if unknown:
            raise ValueError(f"Diagnostics: the model has no parameters {unknown}")
        self.params = {n: named[n] for n in names}
        self.acts = defaultdict(list)
        self.grads = defaultdict(list)
        self.update_ratios = defaultdict(list)
        self.preactivations = {}  # block index -> the last watched GELU inputs, a NumPy array

    @contextmanager
    def activations(self, step, enabled=True):
        """Record each block's GELU input and output stream during the forward passes inside."""
        if not enabled:
            yield
            return
        seen = {}

        def gelu_input(i):
            return lambda u, y: seen.__setitem__(i, array_of(u))

        def block_output(i):
            def record(x, y):
                u = seen.pop(i)
                self.preactivations[i] = np.asarray(to_device(u, "cpu"))
                mean, std, dead = float(u.mean(dtype="float64")), _std(u), float((u < DEAD_BELOW).mean())
                self.acts[i].append(ActivationStats(step, mean, std, dead, _std(array_of(y))))

            return record

        with ExitStack() as stack:
            for i, block in enumerate(self.model.transformer.h):
                stack.enter_context(_after_forward(block.mlp.gelu, gelu_input(i)))
                stack.enter_context(_after_forward(block, block_output(i)))
            yield

    def record_gradients(self, step):
        """After ``loss.backward()``: std(grad), std(grad)/std(w) and ||grad|| of each tracked parameter."""
        for name, p in self.params.items():
            if p.grad is None:
                raise ValueError(f"Diagnostics.record_gradients: {name} has no gradient (call it after backward)")
            g = _std(p.grad)
            w = _std(p.data)
            norm = math.sqrt(float((p.grad * p.grad).sum(dtype="float64")))
            self.grads[name].append(GradientStats(step, g, g / w if w > 0 else float("nan"), norm))

    @contextmanager
    def updates(self, step, enabled=True):
        """Around ``optimizer.step()``: the update-to-weight ratio of each tracked parameter."""
        if not enabled:
            yield
            return
        before = {name: p.data.copy() for name, p in self.params.items()}
        yield
        for name, p in self.params.items():
            delta = _std(p.data - before[name])
            self.update_ratios[name].append(UpdateStats(step, _log10_ratio(delta, _std(before[name]))))

    def series(self, what, key, field):
        """(steps, values) of one statistic as two arrays, e.g. ``series("update_ratios", name,
        "log10_ratio")`` or ``series("acts", 0, "dead")``."""
        rows = getattr(self, what)[key]
        return np.array([r.step for r in rows]), np.array([getattr(r, field) for r in rows])
