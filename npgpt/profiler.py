"""Where a training step's time goes, op by op, forward and backward apart.

    from npgpt.profiler import profile_ops
    with profile_ops() as prof:
        _, loss = model(x, y)
        loss.backward()
    for name, phase, seconds, calls in prof.rows():
        ...

While ``profile_ops`` runs, ``Function.apply`` times each op's ``forward`` and the backward walk
times each op's ``backward`` (``npgpt/autograd.py``, ``_op_timer``); outside it they run untimed.
The time of a phase not spent inside ops (Python in the modules, the backward walk's own work:
its graph order, the checks, summing gradients) is the phase's wall time minus the ops' sum.
``npgpt bench --profile`` prints this for a whole training step.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager

from . import autograd


class OpProfile:
    """Seconds and calls per (op name, phase), phase being "forward" or "backward"."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def record(self, name, phase, seconds):
        self.seconds[name, phase] += seconds
        self.calls[name, phase] += 1

    def total(self, phase):
        """Seconds inside ops in ``phase``."""
        return sum(s for (_, p), s in self.seconds.items() if p == phase)

    def rows(self):
        """(op name, phase, seconds, calls), the most time first."""
        out = [(name, phase, s, self.calls[name, phase]) for (name, phase), s in self.seconds.items()]
        return sorted(out, key=lambda r: -r[2])


@contextmanager
def profile_ops():
    """Time every op's forward and backward inside the ``with`` block; yields an ``OpProfile``."""
    prof = OpProfile()
    prev, autograd._op_timer = autograd._op_timer, prof.record
    try:
        yield prof
    finally:
        autograd._op_timer = prev
