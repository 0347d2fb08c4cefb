"""Checks of every collective of npgpt.distributed.Communicator, for tests/test_distributed.py.

Run under ``mpiexec -n N python tests/distributed_collectives.py DEVICE`` (cpu or cuda). Every rank
builds the arrays all ranks would hold (from the rank number alone), runs each collective, and
asserts the result against the formula in communicator.py. Prints ``ok <rank>`` at the end.
"""

from __future__ import annotations

import sys

import numpy as np

from npgpt.backend import to_device
from npgpt.distributed import init_communicator


def arrays_of(rank, n, dtype):
    """What rank ``rank`` holds: n numbers that differ between ranks (and are exact in float32)."""
    return (np.arange(n) * (rank + 1) + 0.5 * rank).astype(dtype)


def check(comm, device, dtype):
    N, r = comm.world_size, comm.rank
    n = 4 * N
    every = [arrays_of(k, n, dtype) for k in range(N)]
    total = sum(every)

    a = to_device(arrays_of(r, n, dtype), device)
    assert comm.all_reduce_(a) is a
    np.testing.assert_array_equal(to_device(a, "cpu"), total)

    send = to_device(arrays_of(r, n, dtype), device)
    recv = to_device(np.zeros(n // N, dtype), device)
    comm.reduce_scatter(send, recv)
    np.testing.assert_array_equal(to_device(recv, "cpu"), total[r * 4 : r * 4 + 4])

    g = to_device(np.full(n, -1.0, dtype), device)
    g[r * 4 : r * 4 + 4] = to_device(every[r][r * 4 : r * 4 + 4], device)  # only my chunk is mine
    comm.all_gather_(g)
    np.testing.assert_array_equal(to_device(g, "cpu"), np.concatenate([every[k][k * 4 : k * 4 + 4] for k in range(N)]))

    b = to_device(arrays_of(r, n, dtype), device)
    comm.broadcast_(b, root=N - 1)
    np.testing.assert_array_equal(to_device(b, "cpu"), every[N - 1])


def main(device):
    comm = init_communicator(required=True)
    for dtype in (np.float32, np.float64):
        check(comm, device, dtype)
    assert comm.sum(comm.rank + 0.25) == sum(k + 0.25 for k in range(comm.world_size))
    assert comm.any(comm.rank == comm.world_size - 1) and not comm.any(False)
    bad_cases = [
        (lambda: comm.all_reduce_(np.zeros((4, 4))[:, 0]), "C-contiguous"),
        (lambda: comm.reduce_scatter(np.zeros(2 * comm.world_size + 1), np.zeros(2)), "reduce_scatter"),
    ]
    if comm.world_size > 1:
        bad_cases.append((lambda: comm.all_gather_(np.zeros(comm.world_size + 1)), "equal chunks"))
    for bad, op in bad_cases:
        try:
            bad()
        except ValueError as e:
            assert op in str(e), e
        else:
            raise AssertionError(f"no error for {op}")
    comm.barrier()
    print(f"ok {comm.rank}")


if __name__ == "__main__":
    main(sys.argv[1])
