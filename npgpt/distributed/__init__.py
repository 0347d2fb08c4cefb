"""Training one model with several processes (MPI ranks): data parallelism and ZeRO-1.

``mpiexec -n 2 npgpt train ...`` starts two copies of npgpt; each is a *rank*. They train one model:

- launch.py: is this an MPI launch (environment variables), the communicator, mpiexec commands;
- communicator.py: rank, world size and the collectives (all-reduce, reduce-scatter, all-gather,
  broadcast) on NumPy arrays through mpi4py, and on CuPy arrays through NCCL (gpu.py);
- flat_buffer.py: all parameters end to end in one flat array, so one message moves them all;
- data_parallel.py: average the gradients over ranks with one all-reduce per step;
- zero.py: ZeRO-1, the optimizer state sharded over the ranks;
- training.py: what ``npgpt train`` calls (its batches, its evaluation, stopping together).

Nothing here imports mpi4py until more than one rank runs (or ``--distributed`` asks for it).
"""

from .data_parallel import GradientAverager, broadcast_parameters
from .flat_buffer import FlatLayout
from .launch import INSTALL_HINT, DistributedError, init_communicator, launched_world_size, mpiexec_command, mpiexec_env
from .zero import ZeroRedundancyOptimizer, optimizer_state_bytes

__all__ = [
    "DistributedError",
    "FlatLayout",
    "GradientAverager",
    "INSTALL_HINT",
    "ZeroRedundancyOptimizer",
    "broadcast_parameters",
    "init_communicator",
    "launched_world_size",
    "mpiexec_command",
    "mpiexec_env",
    "optimizer_state_bytes",
]
