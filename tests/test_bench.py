"""``npgpt bench``: npgpt and the PyTorch reference timed in their own processes, rows with ratios."""

from __future__ import annotations

import math
import sys

import pytest
from conftest import require_torch

from npgpt import cli
from npgpt.commands.bench import format_row, run_benchmark


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
