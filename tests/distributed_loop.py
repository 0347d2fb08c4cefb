"""A small explicit data-parallel training loop, for tests/test_distributed.py.

Run under ``mpiexec -n N python tests/distributed_loop.py OUT_DIR``: every rank trains the same tiny
GPT in several set-ups (float64 and float32 plain data parallel, buckets, ZeRO-1 with and without
clipping) and writes ``OUT_DIR/<setup>.rank<r>.npz`` with its final parameters, the optimizer
state it holds and its unsharded state dict. The tests compare these with :func:`train` run in one
process (``comm=None``) on a batch N times larger: the same examples.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from npgpt.distributed import init_communicator, optimizer_state_bytes
from npgpt.distributed.training import DataParallel
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, clip_grad_norm_, param_groups_for_weight_decay, set_lr

CONFIG = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
B, STEPS = 3, 4  # rows per rank, optimizer steps
SETUPS = {
    # name: (dtype, zero, grad_clip, bucket_bytes)
    "dp64": ("float64", False, 0.05, None),
    "dp32": ("float32", False, 0.05, None),
    "dp64_buckets": ("float64", False, 0.05, 4000),
    "zero64": ("float64", True, 0.05, None),
    "zero64_noclip": ("float64", True, 0.0, None),
    "dp64_noclip": ("float64", False, 0.0, None),
}


def batches(world_size):
    """The examples of every step: ``world_size * B`` random windows (the same on every rank)."""
    rng = np.random.default_rng(7)
    ids = rng.integers(0, CONFIG.vocab_size, (STEPS, world_size * B, CONFIG.block_size + 1))
    return [(w[:, :-1], w[:, 1:]) for w in ids]


def train(setup, comm=None, world_size=1):
    """Train per ``setup``; with ``comm``, this rank's share of each batch and averaged gradients."""
    dtype, zero, grad_clip, bucket_bytes = SETUPS[setup]
    model = GPT(CONFIG, rng=np.random.default_rng(0), dtype=np.dtype(dtype))
    opt = AdamW(param_groups_for_weight_decay(model.named_parameters(), 0.1), lr=1e-2, betas=(0.9, 0.99))
    dp = DataParallel(comm, opt, zero=zero, bucket_bytes=bucket_bytes) if comm is not None else None
    params = [p for g in opt.param_groups for p in g["params"]]
    step_opt = dp.optimizer if dp else opt
    for step, (x, y) in enumerate(batches(world_size)):
        set_lr(step_opt, 1e-2 * (step + 1) / STEPS)  # a schedule: ZeRO must follow it
        if dp:
            x, y = dp.local_batch(x, y)
        _, loss = model(x, y)
        step_opt.zero_grad()
        loss.backward()
        if dp:
            dp.average_gradients()  # the one place that makes this loop data parallel
        if grad_clip > 0:
            dp.clip_grad_norm_(grad_clip) if dp else clip_grad_norm_(params, grad_clip)
        step_opt.step()
    return model, step_opt


def main(out_dir):

    comm = init_communicator(required=True)
    for setup in SETUPS:
        model, opt = train(setup, comm, comm.world_size)
        sd = opt.state_dict()  # collective for ZeRO: every rank calls it
        arrays = {f"param.{k}": v for k, v in model.state_dict().items()}
        arrays.update({f"state.{k}": v for k, v in sd["state"].items()})
        arrays["state_bytes"] = np.array(optimizer_state_bytes(opt))
        arrays["opt_step"] = np.array(sd["step"])
        np.savez(Path(out_dir) / f"{setup}.rank{comm.rank}.npz", **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
