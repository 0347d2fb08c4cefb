"""``npgpt bench --profile``: where one training step's time goes, op by op.

For each configuration, npgpt alone (no reference) trains a few warm-up steps, then times every op's
forward and backward over ``steps`` more (``npgpt.profiler.profile_ops``) together with the
step's four phases: forward, zero_grad, backward, AdamW. A phase's time outside its ops is shown
on its own row (the modules' Python in the forward; the backward walk's own work). Timing each op
adds a little to the step, so the table shows shares, not a benchmark: ``npgpt bench`` is that.

The matrix products' row compares the ``Linear`` ops' rate (their FLOPs: 2 * rows * in * out
forward, twice that backward) with this machine's float32 GEMM peak, measured in the same process
on 2048 x 2048 matrices before and after the steps (the faster of the two).
"""

from __future__ import annotations

import time

import numpy as np

from ..memory import tune_malloc
from ..nn import GPT
from ..optim import AdamW
from ..profiler import profile_ops


def gemm_peak_gflops(n=2048, repeats=3):
    """Best float32 GFLOP/s of an (n, n) @ (n, n) product over ``repeats`` runs."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def linear_flops(model, rows):
    """FLOPs of one step's ``Linear`` ops (blocks and the tied head) for ``rows`` = B * T positions."""
    cfg = model.config
    C, V, L = cfg.n_embd, cfg.vocab_size, cfg.n_layer
    forward = 2 * rows * (L * (3 * C * C + C * C + 4 * C * C + 4 * C * C) + C * V)
    return 3 * forward  # the backward computes two products of each forward one's size


def profile_training(config, batches, warmup=3):
    """(OpProfile, {phase: seconds}) over ``batches[warmup:]``, after ``warmup`` untimed steps."""
    tune_malloc()
    model = GPT(config, rng=np.random.default_rng(0))
    opt = AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)
    phases = dict.fromkeys(("forward", "zero_grad", "backward", "AdamW step"), 0.0)

    def step(x, y, times):
        t0 = time.perf_counter()
        _, loss = model(x, y)
        t1 = time.perf_counter()
        opt.zero_grad()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        for key, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[key] += dt

    for x, y in batches[:warmup]:
        step(x, y, dict(phases))
    with profile_ops() as prof:
        for x, y in batches[warmup:]:
            step(x, y, phases)
    return model, prof, phases


def profile_table(name, config, batches, warmup=3):
    """The lines of one configuration's table: ms per step, share of the step, per op and phase."""
    peak = gemm_peak_gflops()  # before and after the steps: the better of the two (a busy machine)
    model, prof, phases = profile_training(config, batches, warmup)
    peak = max(peak, gemm_peak_gflops())
    steps = len(batches) - warmup
    step = sum(phases.values())
    ms = lambda s: 1e3 * s / steps  # noqa: E731
    lines = [
        f"{name}: {ms(step):.1f} ms per step (profiled, {steps} steps)",
        f"  {'op':<28} {'phase':<9} {'ms/step':>8} {'share':>6} {'calls/step':>10}",
    ]
    rows = [(n, p, s, c / steps) for n, p, s, c in prof.rows()]
    rows += [
        ("(modules' Python)", "forward", phases["forward"] - prof.total("forward"), None),
        ("(the backward walk)", "backward", phases["backward"] - prof.total("backward"), None),
        ("AdamW step", "update", phases["AdamW step"], None),
        ("zero_grad", "update", phases["zero_grad"], None),
    ]
    for n, p, s, c in sorted(rows, key=lambda r: -r[2]):
        calls = "-" if c is None else f"{c:.0f}"
        lines.append(f"  {n:<28} {p:<9} {ms(s):8.2f} {100 * s / step:5.1f}% {calls:>10}")
    lin = prof.seconds["Linear", "forward"] + prof.seconds["Linear", "backward"]
    rate = linear_flops(model, batches[0][0].size) * steps / lin / 1e9
    lines.append(
        f"  matrix products (Linear ops): {100 * lin / step:.0f}% of the step at {rate:.0f} GFLOP/s, "
        f"{100 * rate / peak:.0f}% of this machine's float32 GEMM peak ({peak:.0f} GFLOP/s, 2048^3)"
    )
    return lines
