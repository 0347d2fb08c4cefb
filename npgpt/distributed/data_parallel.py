"""Data parallelism: every rank holds the whole model, sees different examples, and the ranks
average their gradients before each optimizer step.

Why averaging is exact: the loss of a batch of N x B examples is the mean of N per-rank losses on
B examples each, so its gradient is the mean of the N per-rank gradients::

    d/dw (1/N) sum_r L_r(w) = (1/N) sum_r dL_r/dw

After the average every rank holds the same gradient, takes the same optimizer step, and the
replicas stay identical without ever sending parameters.

One step's communication here:
### BEGIN SOLUTION 17.2
all gradients are packed into one flat buffer (see
flat_buffer.py), summed over ranks in place by ONE all-reduce, divided by N, and each ``p.grad``
becomes a view into the buffer.
### END SOLUTION 17.2
Optionally the buffer goes out in several buckets; here the
buckets only bound the size of each message: they overlap with nothing (PyTorch's DDP starts each
bucket while backward is still computing the earlier layers' gradients; npgpt's backward does not
hand out gradients early, so it cannot).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from .flat_buffer import FlatLayout


@contextmanager
def timed(owner):
    """Add the seconds spent in the ``with`` block (the collectives) to ``owner.comm_seconds``."""
    t = time.perf_counter()
    try:
        yield
    finally:
        owner.comm_seconds += time.perf_counter() - t


class GradientAverager:
    """``average_()`` after ``loss.backward()``: every ``p.grad`` becomes the mean over ranks.

    ``params``: the parameters (in the optimizer's order); ``comm``: a Communicator;
    ``bucket_bytes``: None for one all-reduce of the whole buffer, or the largest message size.
    ``comm_seconds`` adds up the time spent inside the all-reduce calls (for the benchmark; on a
    GPU the calls are queued, so it measures only the launch).
    """

    def __init__(self, params, comm, bucket_bytes=None):
        self.layout = FlatLayout(params)
        self.comm = comm
        self.buffer = self.layout.zeros()
        n = self.layout.numel
        ### BEGIN SOLUTION 17.2
        step = n if not bucket_bytes else max(1, int(bucket_bytes) // self.layout.dtype.itemsize)
        self.buckets = [(a, min(a + step, n)) for a in range(0, n, step)]
        ### END SOLUTION 17.2
        self.comm_seconds = 0.0

    def average_(self):
        """Pack the gradients, all-reduce (sum) them, divide by the number of ranks; ``p.grad``
        of each parameter is then a view of its part of the buffer."""
        ### BEGIN SOLUTION 17.2
        layout, buf = self.layout, self.buffer
        layout.pack_grads(buf)
        for i, p in enumerate(layout.params):
            p.grad = layout.view(buf, i)
        with timed(self):
            for a, b in self.buckets:  # one after another: nothing else runs meanwhile
                self.comm.all_reduce_(buf[a:b])
        buf /= self.comm.world_size
        ### END SOLUTION 17.2


def broadcast_parameters(params, comm, root=0):
    """Make every rank's parameters equal to rank ``root``'s (one broadcast of a flat buffer).

    Ranks that build the model from the same seed already agree; this makes sure of it before the
    first step, whatever each rank did to build or load its copy.
    """
    layout = FlatLayout(params)
    buf = layout.pack_data(layout.zeros())
    comm.broadcast_(buf, root)
    layout.unpack_data(buf)
