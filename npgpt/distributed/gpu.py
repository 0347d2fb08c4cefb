"""The collectives on CuPy arrays: NCCL through ``cupy.cuda.nccl``, or host staging without NCCL.

NCCL ranks find each other through a 128-byte id that rank 0 draws and MPI broadcasts. Each call
is queued on CuPy's current stream, like any kernel, so it is ordered with the backward that made
the gradients and the optimizer step that reads them. NCCL needs one GPU per rank; when ranks
share a GPU (or CuPy has no NCCL) the arrays are copied to host memory and reduced there by MPI.
Tested only on a machine with a GPU.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ..backend import cupy_module


class NcclOps:
    """all_reduce_ / reduce_scatter / all_gather_ / broadcast_ for CuPy arrays (see communicator.py)."""

    def __init__(self, comm):
        self.cp = cupy_module()
        self.comm = comm  # the MPI Communicator: for the NCCL id, and for host staging
        try:
            from cupy.cuda import nccl
        except ImportError:
            nccl = None
        own_gpu = comm.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size() <= self.cp.cuda.runtime.getDeviceCount()
        self.nccl = nccl if own_gpu and nccl is not None and getattr(nccl, "available", True) else None
        self.nc = None
        if self.nccl is not None:
            uid = np.zeros(128, dtype=np.int64)
            if comm.rank == 0:
                uid[:] = self.nccl.get_unique_id()
            comm.comm.Bcast(uid, root=0)
            self.nc = self.nccl.NcclCommunicator(comm.world_size, tuple(int(c) for c in uid), comm.rank)

    def _dtype(self, a):
        table = {np.dtype(np.float32): self.nccl.NCCL_FLOAT32, np.dtype(np.float64): self.nccl.NCCL_FLOAT64}
        if a.dtype not in table:
            raise TypeError(f"NCCL collectives here take float32 or float64 arrays, got {a.dtype}")
        return table[a.dtype]

    def _stream(self):
        return self.cp.cuda.get_current_stream().ptr

    def all_reduce_(self, buf):
        if self.nc is None:
            return self._staged(buf, self.comm.all_reduce_)
        self.nc.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf), self.nccl.NCCL_SUM, self._stream())
        return buf

    def reduce_scatter(self, send, recv):
        if self.nc is None:
            host = self.cp.asnumpy(send)
            out = np.empty(recv.shape, dtype=recv.dtype)
            self.comm.reduce_scatter(host, out)
            recv.set(out)
            return recv
        self.nc.reduceScatter(
            send.data.ptr, recv.data.ptr, recv.size, self._dtype(send), self.nccl.NCCL_SUM, self._stream()
        )
        return recv

    def all_gather_(self, buf):
        if self.nc is None:
            return self._staged(buf, self.comm.all_gather_)
        n = buf.size // self.comm.world_size
        mine = buf.data.ptr + self.comm.rank * n * buf.itemsize  # in place: my chunk is already there
        self.nc.allGather(mine, buf.data.ptr, n, self._dtype(buf), self._stream())
        return buf

    def broadcast_(self, buf, root=0):
        if self.nc is None:
            return self._staged(buf, lambda h: self.comm.broadcast_(h, root))
        self.nc.bcast(buf.data.ptr, buf.size, self._dtype(buf), root, self._stream())
        return buf

    def _staged(self, buf, host_op):
        """Copy to host memory, run the MPI collective there, copy back."""
        host = self.cp.asnumpy(buf)
        host_op(host)
        buf.set(host)
        return buf
