"""What ``npgpt train`` calls when it runs on several ranks (one ``DataParallel`` per run).

The plan of a data-parallel run with N ranks and ``--batch-size B``:

- every rank draws the SAME N x B windows from one batch generator (same seed, same state) and
  keeps its own B rows (``local_batch``): different data on each rank, one seed scheme, and the N
  ranks together see exactly the batch one process with ``--batch-size N*B`` would see;
- forward and backward on its B rows; ``average_gradients()`` (one all-reduce, or ZeRO-1's
  reduce-scatter); ``clip_grad_norm_`` on the averaged gradients; ``optimizer.step()``;
- evaluation: each rank measures its rows of the fixed batches; ``mean_over_ranks`` averages them;
- dropout masks must differ between ranks: rank r's generator is the run's generator jumped r
  times (``for_rank``); PCG64 jumps commute with drawing, so a checkpoint saves rank 0's state only;
- rank 0 alone writes the log, loss.png and checkpoints; all ranks agree to stop (``any``) so that
  a Ctrl-C seen by one rank stops all of them after the same step.
"""

from __future__ import annotations

import sys

import numpy as np

from ..optim import clip_grad_norm_
from .data_parallel import GradientAverager, broadcast_parameters
from .zero import ZeroRedundancyOptimizer


class DataParallel:
    """Gradient averaging (or ZeRO-1) for ``optimizer``'s parameters over the ranks of ``comm``.

    ``self.optimizer`` is what the loop steps: ``optimizer`` itself, or with ``zero=True`` a
    :class:`ZeroRedundancyOptimizer` around it. Parameters are broadcast from rank 0 first.
    """

    def __init__(self, comm, optimizer, zero=False, bucket_bytes=None):
        self.comm, self.rank, self.world_size = comm, comm.rank, comm.world_size
        params = [p for g in optimizer.param_groups for p in g["params"]]
        broadcast_parameters(params, comm)
        if zero:
            self.optimizer, self.averager = ZeroRedundancyOptimizer(optimizer, comm), None
        else:
            self.optimizer, self.averager = optimizer, GradientAverager(params, comm, bucket_bytes)
        self.params = params

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    @property
    def comm_seconds(self) -> float:
        """Seconds spent inside collectives on gradients and parameters so far."""
        return (self.averager or self.optimizer).comm_seconds

    def local_batch(self, x, y):
        """This rank's rows of a batch of ``world_size * B`` rows (rank r: rows r*B .. r*B + B - 1)."""
        B = len(x) // self.world_size
        lo = self.rank * B
        return x[lo : lo + B], y[lo : lo + B]

    def average_gradients(self):
        """After ``loss.backward()``: gradients averaged over ranks (ZeRO-1: this rank's shard)."""
        if self.averager is not None:
            self.averager.average_()
        else:
            self.optimizer.reduce_scatter_grads()

    def clip_grad_norm_(self, max_norm):
        """Clip the averaged gradients by their global norm (same rule as npgpt.optim.clip_grad_norm_)."""
        if self.averager is None:
            return self.optimizer.clip_grad_norm_(max_norm)
        return clip_grad_norm_(self.params, max_norm)

    def mean_over_ranks(self, values):
        """Mean of all ranks' ``values`` together (a list of numbers per rank)."""
        return self.comm.sum(float(np.sum(values))) / self.comm.sum(len(values))

    def any(self, flag) -> bool:
        return self.comm.any(flag)

    def checkpoint_state(self):
        """What rank 0 passes to ``save_checkpoint`` as the optimizer: an object whose ``state_dict()``
        is the whole (unsharded) optimizer state. Every rank must call this (ZeRO-1 gathers the
        shards); the other ranks get None."""
        if self.averager is None:
            sd = self.optimizer.state_dict()  # a collective
        elif self.is_root:
            sd = self.optimizer.state_dict()
        else:
            return None
        return _SavedOptimizer(sd) if self.is_root else None


class _SavedOptimizer:
    """A state dict standing in for an optimizer where ``save_checkpoint`` asks for one."""

    def __init__(self, sd):
        self.sd = sd

    def state_dict(self):
        return self.sd


def for_rank(rng, rank):
    """A generator for rank ``rank``: ``rng``'s state jumped ``rank`` times (rank 0: the same state)."""
    return np.random.Generator(rng.bit_generator.jumped(rank))


def abort(comm, message, code=2):
    """Print ``message`` (one line, to stderr) and end the job on every rank: the other ranks would
    otherwise wait for ever in their next collective."""
    print(message, file=sys.stderr, flush=True)
    if comm is not None and comm.world_size > 1:
        comm.abort(code)
