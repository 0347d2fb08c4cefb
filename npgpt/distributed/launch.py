"""Was this process started by ``mpiexec``? And the communicator when it was.

An MPI launcher starts N copies of the same program and tells each, through environment
variables, how many copies there are and which one it is. Reading those variables costs nothing,
so a plain ``npgpt train`` never imports mpi4py; only a launch with more than one rank (or an
explicit ``--distributed``) does.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

INSTALL_HINT = "pip install -e '.[mpi]' (mpi4py and the MPICH wheel, which brings mpiexec)"

# world-size variables set by the common launchers: MPICH/Intel MPI (hydra), Open MPI, MVAPICH,
# PMIx-based launchers (Open MPI 5, srun --mpi=pmix)
WORLD_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


class DistributedError(RuntimeError):
    """Distributed training was asked for but cannot run (no mpi4py, a rank failed, ...)."""


def launched_world_size(environ=None) -> int:
    """Number of ranks an MPI launcher started, read from its environment (1 if none)."""
    environ = os.environ if environ is None else environ
    for name in WORLD_SIZE_VARS:
        value = environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def init_communicator(required: bool = False):
    """A :class:`Communicator` over all ranks, or None for a single process.

    None (mpi4py not imported) when no launcher started more than one rank and ``required`` is
    False. With ``required=True`` (``--distributed``) or under ``mpiexec -n N`` with N > 1, mpi4py
    is imported; if it is missing that is a :class:`DistributedError` saying how to install it.
    """
    n = launched_world_size()
    if n <= 1 and not required:
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        how = f"launched as one of {n} MPI ranks" if n > 1 else "distributed training asked for"
        raise DistributedError(f"{how}, but mpi4py is not installed: {INSTALL_HINT}") from None
    from .communicator import Communicator

    return Communicator(MPI.COMM_WORLD)


def mpiexec_command(n: int, argv: list[str]) -> list[str]:
    """``[mpiexec, -n, N, *argv]`` using the mpiexec next to this Python (the MPICH wheel puts it
    there), else the one on PATH. Raises DistributedError if there is none."""
    here = Path(sys.executable).with_name("mpiexec")
    exe = str(here) if here.exists() else shutil.which("mpiexec")
    if exe is None:
        raise DistributedError(f"mpiexec not found: {INSTALL_HINT}")
    return [exe, "-n", str(n), *argv]


def mpiexec_env(threads_per_rank: int | None = None, base=None) -> dict:
    """Environment for ranks started by :func:`mpiexec_command` on one machine.

    Open MPI refuses to run as root unless told it may (CI containers run as root); MPICH ignores
    these variables. ``threads_per_rank`` pins the BLAS thread pools, so that ranks x threads =
    cores instead of every rank starting one thread per core and fighting over them.
    """
    env = dict(os.environ if base is None else base)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in list(env):  # an enclosing launch's variables would confuse the new ranks
        if name.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "MV2_COMM_WORLD", "MPI_LOCAL")):
            del env[name]
    if threads_per_rank is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads_per_rank)
    return env
