"""``npgpt sweep``: a 2x2 grid end to end, resume after the process is killed mid-sweep, flag errors.

Every run is tiny (context 16, batch 4, a few dozen steps) on the shipped corpus; runs go to worker
processes as in a real sweep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from npgpt.cli import main
from npgpt.sweep import RESULTS, SweepConfig, load_results, plan, run_sweep, write_provenance

TINY = dict(
    models="1x8,1x16",
    budgets="2e8,4e8",
    block_size=16,
    batch_size=4,
    eval_batches=2,
    min_steps=1,
)
ROOT = Path(__file__).resolve().parents[1]


def quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The results of the 2x2 grid run straight through, two runs at a time (made once)."""
    out = tmp_path_factory.mktemp("sweep")
    return run_sweep(SweepConfig(out_dir=str(out), jobs=2, **TINY), log=quiet), out


def test_a_2x2_grid_records_every_run(straight):
    results, out = straight
    assert load_results(out / RESULTS) == results
    assert sorted(r["id"] for r in results["runs"]) == sorted(
        f"L{L}_C{C}_F{b}_s1337" for L, C in ((1, 8), (1, 16)) for b in ("2e+08", "4e+08")
    )
    for r in results["runs"]:
        assert r["val_loss"] < r["initial_val_loss"]  # every run learned something
        assert r["flops"] == 6 * r["params"] * r["tokens"]
        assert abs(r["flops"] - r["budget"]) <= 6 * r["params"] * 4 * 16 / 2  # steps are rounded
        assert r["cpu_seconds"] > 0
    assert results["settings"]["models"] == "1x8,1x16"
    assert {"npgpt", "numpy", "python"} <= set(results["versions"])
    assert results["machine"]["cpu_count"] >= 1
    assert results["cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in results["runs"]), abs=0.05)
    assert not (out / "runs").exists()  # every run's folder is removed once its loss is kept
    provenance = (out / "PROVENANCE.md").read_text()
    assert results["command"] in provenance and "CPU time" in provenance


def test_bigger_budgets_give_lower_loss(straight):
    by = {(r["n_embd"], r["budget"]): r["val_loss"] for r in straight[0]["runs"]}
    for C in (8, 16):
        assert by[(C, 4e8)] < by[(C, 2e8)]


def test_plan_skips_runs_outside_the_window():
    cfg = SweepConfig(**{**TINY, "max_tokens_per_param": 20.0})
    runs, skipped = plan(cfg, 65)
    assert all(r["tokens_per_param"] <= 20 for r in runs)
    assert skipped and all("tokens per parameter" in s["skipped"] for s in skipped)


def _sweep_cmd(out, *extra):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    return [sys.executable, "-m", "npgpt", "sweep", f"--out-dir={out}", *flags, *extra]


def test_resume_after_the_sweep_is_killed(tmp_path, straight):
    """Kill the whole process group once one run is recorded; --resume trains only the rest."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_sweep_cmd(tmp_path), env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    path = tmp_path / RESULTS
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and load_results(path)["runs"]:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = load_results(path)["runs"]  # the file is whole: it was written atomically
    assert 1 <= len(first) < 4, "the sweep was not caught mid-way"
    done = subprocess.run(_sweep_cmd(tmp_path, "--resume"), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {len(first)} of 4 runs done" in done.stderr
    runs = load_results(path)["runs"]
    assert runs[: len(first)] == first  # kept as they were
    assert sorted(r["id"] for r in runs) == sorted(r["id"] for r in straight[0]["runs"])
    want = {r["id"]: r["val_loss"] for r in straight[0]["runs"]}
    assert {r["id"]: r["val_loss"] for r in runs} == want  # the same losses, one run at a time or two


def test_an_existing_sweep_is_not_overwritten_by_accident(straight, capsys):
    _, out = straight
    assert main(["sweep", f"--out-dir={out}", "--models=1x8"]) == 2
    err = capsys.readouterr().err
    assert "already holds a sweep" in err and err.count("\n") == 1


def test_resume_refuses_other_settings(tmp_path, capsys):
    run_sweep(SweepConfig(out_dir=str(tmp_path), **{**TINY, "budgets": "2e8"}), log=quiet)
    assert main(["sweep", f"--out-dir={tmp_path}", "--resume", "--lr=0.01"]) == 2
    assert "other settings (lr)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--models=2y16", "not LAYERSxWIDTH"),
        ("--models=1x50", "heads of head_size"),
        ("--budgets=1e11,lots", "budgets must be numbers"),
        ("--budgets=-1e10", "budgets must be > 0"),
        ("--seeds=1,x", "seeds must be integers"),
        ("--jobs=0", "--jobs: must be an integer >= 1"),
        ("--warmup-fraction=1.5", "--warmup-fraction: must be a finite number in [0, 1)"),
        ("--min-tokens-per-param=50", "min_tokens_per_param"),
        ("--lr=0", "--lr: must be a finite number > 0"),
    ],
)
def test_bad_flags_are_one_line_errors(tmp_path, capsys, flag, message):
    extra = ["--max-tokens-per-param=40"] if "tokens" in flag else []
    assert main(["sweep", f"--out-dir={tmp_path}", flag, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / RESULTS).exists()


def test_resume_without_a_sweep_is_an_error(tmp_path, capsys):
    assert main(["sweep", f"--out-dir={tmp_path}", "--resume"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_results_file_names_the_command(straight):
    results, _ = straight
    assert results["command"].startswith("npgpt sweep ")
    assert "--models 1x8,1x16" in results["command"] and "--budgets 2e8,4e8" in results["command"]
    json.dumps(results)  # plain JSON


def test_a_resumed_sweep_may_change_its_grid(tmp_path):
    """Each run depends only on its shape, budget and seed: a grown grid keeps the runs it has."""
    small = SweepConfig(out_dir=str(tmp_path), **{**TINY, "models": "1x8", "budgets": "2e8"})
    first = run_sweep(small, log=quiet)["runs"]
    lines = []
    grown = run_sweep(SweepConfig(**{**small.__dict__, "models": "1x8,1x16"}), resume=True, log=lines.append)
    assert grown["runs"][0] == first[0] and len(grown["runs"]) == 2
    assert "1 of 2 runs done" in lines[0]
    assert "--models 1x8,1x16" in grown["command"]
    shrunk = run_sweep(SweepConfig(**{**small.__dict__, "models": "1x16"}), resume=True, log=quiet)
    assert [r["id"] for r in shrunk["runs"]] == ["L1_C16_F2e+08_s1337"]
    assert shrunk["dropped"] == [{"id": first[0]["id"], "cpu_seconds": first[0]["cpu_seconds"]}]
    assert shrunk["cpu_seconds"] == shrunk["runs"][0]["cpu_seconds"]
    write_provenance(shrunk, tmp_path / "P.md")
    assert "resumed with a changed grid: 1 runs" in (tmp_path / "P.md").read_text()
