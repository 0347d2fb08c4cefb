"""A small wrapper around MPI's world communicator: the collectives data-parallel training uses.

Importing this module imports mpi4py; :func:`npgpt.distributed.init_communicator` does so only
when more than one rank runs (or ``--distributed`` is asked for).

Every collective must be called by every rank, in the same order, with arrays of the same size and
dtype on each rank; a rank that calls a different one (or none) makes the others wait for ever.
That is why a rank that fails calls :meth:`Communicator.abort`, which ends every rank.

The collectives, for N ranks, each holding an array ``a_r`` of n numbers (on rank r)::

    all_reduce_(a):       a_r <- a_0 + a_1 + ... + a_{N-1}        on every rank (in place)
    reduce_scatter(a, s): s_r <- chunk r of (a_0 + ... + a_{N-1})  (s has n / N numbers)
    all_gather_(a):       chunk k of a_r <- chunk k of a_k, for all k (in place)
    broadcast_(a, root):  a_r <- a_root

An all-reduce is a reduce-scatter followed by an all-gather; a ring algorithm does each half by
sending (N - 1) / N of the array per rank, so 2 (N - 1) / N in all (notebooks/15 draws it).

NumPy arrays go through MPI (shared memory between ranks on one machine). CuPy arrays go through
NCCL, CUDA's own collectives library, as CuPy wraps it (``cupy.cuda.nccl``); where CuPy was built
without NCCL they are staged through host memory (correct, slower). The GPU path is tested only on
a machine with a GPU.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..backend import cupy_module, get_array_module


class Communicator:
    """All ranks of an MPI job: ``rank`` (0 .. world_size - 1), ``world_size``, and collectives.

    ``comm`` is an mpi4py communicator (``MPI.COMM_WORLD`` by default).
    """

    def __init__(self, comm=None):
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self._gpu = None  # NCCL communicator, made when the first CuPy array arrives

    def __repr__(self):
        return f"Communicator(rank={self.rank}, world_size={self.world_size})"

    @property
    def is_root(self) -> bool:
        """True on rank 0, the rank that writes logs and checkpoints."""
        return self.rank == 0

    # ----------------------------------------------------------------- array collectives
    def all_reduce_(self, buf):
        """Sum ``buf`` over all ranks, in place. Returns ``buf``."""
        if self._on_gpu(buf):
            return self._gpu_ops().all_reduce_(buf)
        self.comm.Allreduce(MPI.IN_PLACE, _contiguous(buf, "all_reduce_"), op=MPI.SUM)
        return buf

    def reduce_scatter(self, send, recv):
        """``recv`` <- this rank's chunk of the sum of ``send`` over ranks; ``send.size`` must be
        ``world_size * recv.size`` (chunk r is ``send[r * recv.size:(r + 1) * recv.size]``)."""
        if send.size != self.world_size * recv.size:
            raise ValueError(f"reduce_scatter: send has {send.size} numbers, recv {recv.size}, ranks {self.world_size}")
        if self._on_gpu(send):
            return self._gpu_ops().reduce_scatter(send, recv)
        self.comm.Reduce_scatter_block(_contiguous(send, "reduce_scatter"), _contiguous(recv, "reduce_scatter"))
        return recv

    def all_gather_(self, buf):
        """Chunk k of ``buf`` <- rank k's chunk k, on every rank, in place (``buf.size`` divisible
        by ``world_size``). Returns ``buf``."""
        if buf.size % self.world_size:
            raise ValueError(f"all_gather_: {buf.size} numbers do not split into {self.world_size} equal chunks")
        if self._on_gpu(buf):
            return self._gpu_ops().all_gather_(buf)
        self.comm.Allgather(MPI.IN_PLACE, _contiguous(buf, "all_gather_"))
        return buf

    def broadcast_(self, buf, root=0):
        """``buf`` <- rank ``root``'s ``buf``, in place. Returns ``buf``."""
        if self._on_gpu(buf):
            return self._gpu_ops().broadcast_(buf, root)
        self.comm.Bcast(_contiguous(buf, "broadcast_"), root=root)
        return buf

    # ----------------------------------------------------------------- numbers and control
    def sum(self, value) -> float:
        """Sum of a Python number over ranks (float64, through a one-number array: no pickling)."""
        a = np.array([value], dtype=np.float64)
        self.comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
        return float(a[0])

    def any(self, flag) -> bool:
        """True on every rank if ``flag`` is true on any rank (to agree on stopping together)."""
        return self.sum(1.0 if flag else 0.0) > 0

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code=1):
        """End every rank of the job now (MPI_Abort). Use it when this rank cannot go on: the others
        would otherwise wait for ever in their next collective."""
        self.comm.Abort(code)

    @property
    def local_rank(self) -> int:
        """This rank's number among the ranks on its own machine (to pick a GPU)."""
        return self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()

    # ----------------------------------------------------------------- GPU
    def select_gpu(self):
        """Make GPU ``local_rank % count`` CuPy's current device, so ranks on one machine spread out."""
        cp = cupy_module()
        cp.cuda.Device(self.local_rank % cp.cuda.runtime.getDeviceCount()).use()

    @staticmethod
    def _on_gpu(a) -> bool:
        return get_array_module(a) is not np

    def _gpu_ops(self):
        if self._gpu is None:
            from .gpu import NcclOps

            self._gpu = NcclOps(self)
        return self._gpu


def _contiguous(a, op):
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: needs a C-contiguous array, got shape {a.shape} with strides {a.strides}")
    return a
