"""``npgpt bench-dist``: data-parallel training speed on this machine, 1 rank against N ranks.

For each number of ranks R the benchmark starts ``mpiexec -n R python -m npgpt.commands.bench_dist
--worker ...``, with the BLAS thread pools pinned so that R x threads = the machine's cores (each
rank would otherwise start one thread per core and they would fight). Every rank trains the same
model on its own batch of B sequences (the per-rank batch stays fixed: "weak scaling"), and times
each step and the part of it spent inside the collectives (the all-reduce of the gradients; with
``--zero`` the reduce-scatter and the all-gather). Rank 0 reports:

- tokens/s = R x B x T / step time (medians over the timed steps);
- communication share = time in collectives / step time (it includes waiting for a slower rank),
  and the gradients' all-reduce timed alone after the steps (the cost of the message itself);
- scaling efficiency = tokens/s with R ranks / (R x tokens/s with 1 rank): 1.0 is perfect.

On one machine the ranks share its cores and memory bandwidth, so this measures the overheads of
data parallelism (the messages, the waiting), not the speed-up of adding machines.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from ..distributed import DistributedError, init_communicator, mpiexec_command, mpiexec_env
from ..distributed.training import DataParallel
from ..memory import tune_malloc
from ..nn import GPT, GPTConfig
from ..optim import AdamW
from ..settings import POSITIVE_INT
from .bench import CONFIGS, VOCAB
from .flags import help_with_range


def worker(name, steps, zero):
    """One rank's measurement; returns a dict (rank 0's is printed as JSON)."""
    tune_malloc()
    comm = init_communicator(required=True)
    L, H, C, T, B = CONFIGS[name]
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=L, n_head=H, n_embd=C), rng=np.random.default_rng(0))
    dp = DataParallel(comm, AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1), zero=zero)
    rng = np.random.default_rng(comm.rank)  # each rank its own data
    step_s, comm_s = [], []
    for i in range(steps + 2):  # 2 warm-up steps
        x, y = rng.integers(0, VOCAB, (B, T)), rng.integers(0, VOCAB, (B, T))
        comm.barrier()  # start together: a step's time is then the slowest rank's
        t, c = time.perf_counter(), dp.comm_seconds
        _, loss = model(x, y)
        dp.optimizer.zero_grad()
        loss.backward()
        dp.average_gradients()
        dp.optimizer.step()
        if i >= 2:
            step_s.append(time.perf_counter() - t)
            comm_s.append(dp.comm_seconds - c)
    step, spent = statistics.median(step_s), statistics.median(comm_s)
    alone = []  # the gradients' all-reduce with nothing else running: the cost of the message itself
    buf = dp.averager.buffer if dp.averager is not None else dp.optimizer.flat_grads
    for _ in range(5):
        comm.barrier()
        t = time.perf_counter()
        comm.all_reduce_(buf)
        alone.append(time.perf_counter() - t)
    return {
        "rank": comm.rank,
        "ranks": comm.world_size,
        "step_ms": step * 1e3,
        "comm_ms": spent * 1e3,
        "comm_share": spent / step,
        "all_reduce_alone_ms": statistics.median(alone) * 1e3,
        "tok_s": comm.world_size * B * T / step,
        "grad_mb": sum(p.data.nbytes for p in model.parameters()) / 2**20,
    }


def run_benchmark(name="mid", ranks=(1, 2), steps=5, zero=False, threads=None, log=print):
    """Measure each rank count in its own mpiexec job; returns a list of rows (dicts).

    ``threads``: BLAS threads per rank (default: cores // ranks, so that ranks x threads = cores).
    """
    cores = os.cpu_count() or 1
    rows = []
    for n in ranks:
        threads_n = threads or max(1, cores // n)
        argv = [sys.executable, "-m", "npgpt.commands.bench_dist", "--worker", name, str(steps), str(int(zero))]
        res = subprocess.run(mpiexec_command(n, argv), capture_output=True, text=True, env=mpiexec_env(threads_n))
        if res.returncode != 0:
            raise DistributedError(f"benchmark job on {n} ranks failed:\n{res.stderr[-2000:]}")
        row = dict(json.loads(res.stdout.strip().splitlines()[-1]), threads=threads_n)
        row["efficiency"] = row["tok_s"] / (n * rows[0]["tok_s"] / rows[0]["ranks"]) if rows else 1.0
        rows.append(row)
        log(format_row(name, row, zero))
    return rows


def format_row(name, r, zero):
    L, H, C, T, B = CONFIGS[name]
    what = "reduce-scatter + all-gather" if zero else "all-reduce"
    return (
        f"{name} ({L}L {H}H {C}C T{T} B{B} per rank)  {r['ranks']} rank(s) x {r['threads']} BLAS thread(s): "
        f"step {r['step_ms']:7.1f} ms, {r['tok_s']:8,.0f} tok/s, {what} of {r['grad_mb']:.1f} MB "
        f"{r['comm_ms']:6.1f} ms = {100 * r['comm_share']:4.1f}% of the step (all-reduce alone "
        f"{r['all_reduce_alone_ms']:.1f} ms), scaling efficiency {r['efficiency']:.2f}"
    )


def add_parser(sub):
    p = sub.add_parser("bench-dist", help="time data-parallel training on 1 and more MPI ranks on this machine")
    p.add_argument("--config", default="mid", choices=list(CONFIGS))
    p.add_argument(
        "--ranks",
        type=POSITIVE_INT.parse,
        nargs="+",
        default=[1, 2],
        help=help_with_range("rank counts to measure (first = baseline)", POSITIVE_INT, "1 2"),
    )
    p.add_argument(
        "--steps",
        type=POSITIVE_INT.parse,
        default=5,
        help=help_with_range("timed steps per job (after 2 warm-up steps)", POSITIVE_INT, 5),
    )
    p.add_argument("--zero", action="store_true", help="shard the AdamW state (ZeRO-1) instead of plain data parallel")
    p.add_argument(
        "--threads", type=POSITIVE_INT.parse, help=f"BLAS threads per rank ({POSITIVE_INT}; default: CPUs // ranks)"
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    p.set_defaults(func=main)


def main(args) -> int:
    print(
        f"npgpt bench-dist: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
        f"{np.__version__}; BLAS threads per rank: {args.threads or 'CPUs // ranks'}; medians over {args.steps} steps"
    )
    try:
        rows = run_benchmark(args.config, args.ranks, args.steps, args.zero, args.threads)
    except DistributedError as e:
        print(f"npgpt bench-dist: {e}", file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": args.config, "zero": args.zero, "cpus": os.cpu_count(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--worker":
    out = worker(sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4])))
    if out.pop("rank") == 0:
        print(json.dumps(out))
