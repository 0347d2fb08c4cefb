"""ZeRO stage 1 (Rajbhandari et al., 2019): each rank keeps the optimizer state of one shard only.

In plain data parallelism every rank holds the whole AdamW state (two moments per parameter: twice
the model's size) and every rank computes the same update. ZeRO-1 cuts the work and the state in
N: lay all parameters end to end in one flat buffer (flat_buffer.py), cut it into N equal shards,
and let rank r own shard r::

### BEGIN SOLUTION 17.3
    grads:  reduce-scatter   rank r gets the sum over ranks of shard r of the gradients, / N
    update: AdamW            rank r updates shard r of the parameters with its shard of the state
    params: all-gather       every rank gets every updated shard
### END SOLUTION 17.3

A reduce-scatter plus an all-gather move as many bytes as one all-reduce, so communication costs
the same as plain data parallelism, while the optimizer state per rank falls from 2 x params to
2 x params / N numbers. The update is AdamW's own code (npgpt.optim.AdamW), applied to "pieces":
the part of each parameter that falls in this rank's shard, views into the flat buffers. AdamW
works element by element, so updating pieces gives the same numbers as updating whole parameters.

ZeRO-2 also keeps only a shard of the gradients (freeing the rest during backward) and ZeRO-3 only
a shard of the parameters (gathering each layer's just before it is used); npgpt does stage 1.
"""

from __future__ import annotations

import math

import numpy as np

from .data_parallel import timed
from .flat_buffer import FlatLayout


class _Piece:
    """The part ``[start, stop)`` of parameter ``index`` (flattened) that lies in this rank's shard.
    ``data`` and ``grad`` are views of the flat buffers: to the optimizer it is a parameter."""

    __slots__ = ("index", "start", "stop", "data", "grad")

    def __init__(self, index, start, stop, data, grad):
        self.index, self.start, self.stop, self.data, self.grad = index, start, stop, data, grad


class ZeroRedundancyOptimizer:
    """Shard ``optimizer``'s state across the ranks of ``comm`` (ZeRO-1).

    ``optimizer`` (e.g. an AdamW over the model's parameter groups) keeps the hyperparameters
    (a schedule writes ``param_groups[i]["lr"]`` as usual) but never steps and holds no state (a
    state it already holds, e.g. loaded from a checkpoint, is cut to this rank's shard); a second
    optimizer of the same class, built over this rank's pieces, does the update.

    Per step, after ``loss.backward()``: :meth:`reduce_scatter_grads`, optionally
    :meth:`clip_grad_norm_`, then :meth:`step`. :meth:`state_dict` and :meth:`load_state_dict`
    use the unsharded format of the wrapped optimizer, so a checkpoint resumes on any number of
    ranks; both are collectives (every rank must call them). A parameter whose gradient is None
    counts as a zero gradient (every GPT parameter has one at every step).
    """

    def __init__(self, optimizer, comm):
        self.optimizer, self.comm = optimizer, comm
        N, r = comm.world_size, comm.rank
        self.layout = FlatLayout([p for g in optimizer.param_groups for p in g["params"]], multiple_of=N)
        self.shard_size = S = self.layout.padded // N
        self.lo, self.hi = r * S, (r + 1) * S
        self.flat_grads = self.layout.zeros()
        self.flat_params = self.layout.zeros()
        self.grad_shard = self.layout.zeros(S)
        self.pieces, groups, i = [], [], 0
        for group in optimizer.param_groups:
            mine = []
            for _ in group["params"]:
                off, n = self.layout.offsets[i], self.layout.sizes[i]
                a, b = max(off, self.lo), min(off + n, self.hi)
                if a < b:
                    mine.append(
                        _Piece(i, a - off, b - off, self.flat_params[a:b], self.grad_shard[a - self.lo : b - self.lo])
                    )
                i += 1
            self.pieces += mine
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": mine})
        self.shard_optimizer = type(optimizer)(groups, **optimizer.defaults)
        self.comm_seconds = 0.0
        if optimizer.state:  # already stepped or loaded from a checkpoint: keep my shard of its state
            self.load_state_dict(optimizer.state_dict())

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none)

    def reduce_scatter_grads(self):
        """``grad_shard`` <- this rank's shard of the gradients, averaged over ranks."""
        ### BEGIN SOLUTION 17.3
        self.layout.pack_grads(self.flat_grads)
        with timed(self):
            self.comm.reduce_scatter(self.flat_grads, self.grad_shard)
        self.grad_shard /= self.comm.world_size
        ### END SOLUTION 17.3

    def clip_grad_norm_(self, max_norm, eps=1e-6):
        """As ``npgpt.optim.clip_grad_norm_`` on the averaged gradients: ``total = sqrt(sum of g^2)``
        over all shards (each rank sums its own, one all-reduce adds them), and every shard is
        scaled by ``max_norm / (total + eps)`` when that is below 1. Returns ``total``."""
        if not max_norm > 0:
            raise ValueError(f"invalid max_norm: {max_norm!r} (must be > 0)")
        xp = self.layout.xp
        total = math.sqrt(self.comm.sum(float(xp.vdot(self.grad_shard, self.grad_shard).astype(np.float64))))
        coef = max_norm / (total + eps)
        if math.isfinite(total) and coef < 1.0:
            self.grad_shard *= coef
        return total

    def step(self):
        """Update this rank's shard with the wrapped optimizer's rule, then all-gather the shards."""
        for outer, inner in zip(self.optimizer.param_groups, self.shard_optimizer.param_groups):
            inner.update({k: v for k, v in outer.items() if k != "params"})  # lr from the schedule
        self.optimizer._step_count += 1
        ### BEGIN SOLUTION 17.3
        for pc in self.pieces:  # the shard's current values (they may have been loaded since)
            pc.data[...] = self.layout.params[pc.index].data.reshape(-1)[pc.start : pc.stop]
        self.shard_optimizer.step()
        with timed(self):
            self.comm.all_gather_(self.flat_params)
        self.layout.unpack_data(self.flat_params)
        ### END SOLUTION 17.3

    # ----- checkpoints: the unsharded format, gathered from / cut into shards ---------------
    def state_dict(self):
        """The wrapped optimizer's ``state_dict()`` as if it had done every step (collective)."""
        opt, inner = self.optimizer, self.shard_optimizer
        if not self.comm.any(bool(inner.state)):
            return opt.state_dict()
        full = {i: {} for i in range(len(self.layout.params))}
        for name in inner._array_state:
            flat = self.layout.zeros()
            for k, pc in enumerate(self.pieces):
                a = self.layout.offsets[pc.index] + pc.start
                flat[a : a + pc.data.size] = inner.state[k][name]
            self.comm.all_gather_(flat)
            for i in full:
                full[i][name] = self.layout.view(flat, i).copy()
        for name in inner._scalar_state:  # each parameter's number, from the rank holding its first element
            values = np.zeros(len(full))
            for k, pc in enumerate(self.pieces):
                if pc.start == 0:
                    values[pc.index] = inner.state[k][name]
            self.comm.all_reduce_(values)
            for i in full:
                full[i][name] = int(values[i]) if values[i].is_integer() else float(values[i])
        opt.state = full
        try:
            return opt.state_dict()
        finally:
            opt.state = {}

    def load_state_dict(self, sd):
        """Keep this rank's shard of an unsharded state dict (checked as the wrapped optimizer checks)."""
        opt, inner = self.optimizer, self.shard_optimizer
        opt.load_state_dict(sd)  # validates; holds the whole state until the end of this call
        full, opt.state = opt.state, {}
        inner.state = {}
        for k, pc in enumerate(self.pieces):
            st = full.get(pc.index)
            if st:
                inner.state[k] = {
                    name: v.reshape(-1)[pc.start : pc.stop].copy() if name in inner._array_state else v
                    for name, v in st.items()
                }
        inner._step_count = opt._step_count


def optimizer_state_bytes(optimizer) -> int:
    """Bytes held by an optimizer's state arrays on this rank (a ZeRO optimizer: its shard only)."""
    opt = getattr(optimizer, "shard_optimizer", optimizer)
    return sum(int(v.nbytes) for st in opt.state.values() for v in st.values() if hasattr(v, "nbytes"))
