"""``npgpt bench``: npgpt and the PyTorch reference timed in their own processes, rows with ratios."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import require_torch

import npgpt
from npgpt import autograd, cli
from npgpt.commands.bench import format_row, run_benchmark
from npgpt.profiler import profile_ops


@pytest.mark.slow
@pytest.mark.torch
def test_bench_times_npgpt_against_torch_on_the_cpu():
    require_torch()
    lines = []
    rows = run_benchmark(("tiny",), repeats=1, steps=2, log=lines.append)
    assert [r["measure"] for r in rows] == ["train", "forward", "generate", "generate_long"]
    for r in rows[:2]:
        assert r["npgpt_ms"] > 0 and r["torch_ms"] > 0 and math.isclose(r["ratio"], r["npgpt_ms"] / r["torch_ms"])
    for r in rows[2:]:
        assert r["npgpt_cache"] > 0 and r["npgpt_nocache"] > 0 and r["torch_nocache"] > 0
    assert lines == [format_row(r) for r in rows]  # one printed line a row, nothing else


def test_bench_on_cuda_without_cupy_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as if CuPy were not installed
    assert cli.main(["bench", "--device", "cuda", "--configs", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npgpt bench: device 'cuda' needs CuPy") and "\n" not in err


def test_profile_times_each_op_forward_and_backward_only_inside_the_block():
    x = npgpt.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    with profile_ops() as prof:
        (x * 2).tanh().sum().backward()
    assert autograd._op_timer is None  # off again: ops outside the block are not timed
    for op in ("Mul", "Tanh", "Sum"):
        assert prof.calls[op, "forward"] == 1 and prof.calls[op, "backward"] == 1, op
        assert prof.seconds[op, "forward"] >= 0 and prof.seconds[op, "backward"] >= 0
    (x * 2).sum().backward()
    assert prof.calls["Mul", "forward"] == 1
    assert prof.total("forward") == sum(s for (_, p), s in prof.seconds.items() if p == "forward")


@pytest.mark.slow
def test_bench_profile_prints_a_table_per_op_and_phase(capsys):
    assert cli.main(["bench", "--profile", "--configs", "tiny", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    for row in ("Linear                       forward", "Linear                       backward", "(the backward walk)"):
        assert row in out, out
    assert "AdamW step" in out and "GEMM peak" in out, out
