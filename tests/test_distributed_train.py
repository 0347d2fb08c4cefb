"""``mpiexec -n 2 npgpt train``: data-parallel training end to end (npgpt/distributed/training.py).

Two ranks with batch B train exactly the run one process trains with batch 2B; rank 0 alone writes;
a killed rank ends the job and the last checkpoint resumes bit for bit; a failing rank aborts the
job instead of leaving the others waiting; without mpi4py, asking for it is a one-line error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import rel_diff, require_mpi, requires_cuda, run_mpi, training_rounding_bound

from npgpt import cli
from npgpt.checkpoint import read_checkpoint
from npgpt.distributed import mpiexec_command, mpiexec_env
from npgpt.train import TrainConfig, train

pytestmark = pytest.mark.mpi

TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=8, eval_batches=2, sample_chars=0, progress=False)


def flags(**settings):
    return [
        f"--{k.replace('_', '-')}"
        if v is True
        else f"--no-{k.replace('_', '-')}"
        if v is False
        else f"--{k.replace('_', '-')}={v}"
        for k, v in settings.items()
    ]


def npgpt_train(**settings):
    return ["-m", "npgpt", "train", *flags(**{**TINY, **settings})]


def bound(steps, batch_size):
    """Rounding allowed between two float64 runs of TINY (tests/conftest.py): the longest sums are the
    batch_size * block_size token terms of a weight gradient and each layer's 4 * n_embd MLP terms."""
    depth = batch_size * TINY["block_size"] + TINY["n_layer"] * 4 * TINY["n_embd"]
    return training_rounding_bound(np.float64, steps, depth)


@pytest.mark.slow  # several seconds: a few npgpt processes under mpiexec
@pytest.mark.parametrize("zero", [False, True], ids=["dp", "zero1"])
def test_two_ranks_train_the_run_of_one_process_with_twice_the_batch(tmp_path, zero):
    run = dict(max_steps=6, warmup_steps=2, eval_interval=3, dtype="float64", lr=1e-3)
    res = run_mpi(2, npgpt_train(out_dir=tmp_path / "two", batch_size=3, **run) + (["--zero"] * zero))
    assert "data parallel on 2 ranks: batch 3 on each, 6 per step" in res.stdout
    assert res.stdout.count("step 6: train loss") == 1  # rank 0 alone reports
    train(TrainConfig(**TINY, **run, out_dir=str(tmp_path / "one"), batch_size=6), log=lambda *a: None)
    two, one = (read_checkpoint(tmp_path / d / "checkpoint") for d in ("two", "one"))
    assert rel_diff(two["model"], one["model"]) <= bound(6, 6)
    # ZeRO-1 gathers its shards: the checkpoint holds the whole AdamW state, as one process's does
    assert rel_diff(two["optimizer"]["state"], one["optimizer"]["state"]) <= bound(6, 6)
    assert two["optimizer"]["scalars"] == one["optimizer"]["scalars"]
    log = [json.loads(line) for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [0, 3, 6]  # written once, by rank 0
    for mine, ref in zip(log, one["state"]["history"]):  # evaluation averaged over the ranks' rows
        assert mine["val_loss"] == pytest.approx(ref["val_loss"], rel=1e-12)
    assert (tmp_path / "two" / "loss.png").stat().st_size > 0


@pytest.mark.cuda
@requires_cuda
def test_two_ranks_on_the_gpu_train_the_run_of_one_process(tmp_path):
    """CuPy arrays reduced through NCCL (one GPU per rank) or through host memory (ranks sharing a GPU)."""
    run = dict(max_steps=4, warmup_steps=1, eval_interval=2, dtype="float64", lr=1e-3, device="cuda")
    run_mpi(2, npgpt_train(out_dir=tmp_path / "two", batch_size=3, **run))
    train(TrainConfig(**TINY, **run, out_dir=str(tmp_path / "one"), batch_size=6), log=lambda *a: None)
    two, one = (read_checkpoint(tmp_path / d / "checkpoint") for d in ("two", "one"))
    assert rel_diff(two["model"], one["model"]) <= bound(4, 6)


def _pid_of_rank(rank, marker, timeout=30):
    """The process id of MPI rank ``rank`` of the job whose command line holds ``marker`` (Linux /proc)."""
    deadline = time.monotonic() + timeout  # a wait for the rank to start, not a timing assertion
    while time.monotonic() < deadline:
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and marker in (d / "cmdline").read_bytes().decode(errors="replace"):
                    if f"PMI_RANK={rank}".encode() in (d / "environ").read_bytes().split(b"\0"):
                        return int(d.name)
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError(f"rank {rank} of {marker} not found")


def _step_of(checkpoint):
    try:
        return json.loads((checkpoint / "state.json").read_text())["step"]
    except (OSError, ValueError):
        return -1


def _run_until_checkpoint(cmd, out, then):
    """Start ``cmd``, wait for its first checkpoint, call ``then(job)``, and wait for the job to end."""
    job = subprocess.Popen(cmd, env=mpiexec_env(1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while _step_of(out / "checkpoint") < 1 and job.poll() is None:
            time.sleep(0.02)
        then(job)
        output, _ = job.communicate(timeout=60)  # ends: no rank is left waiting for ever
    finally:
        if job.poll() is None:
            job.kill()
    return job.returncode, output


@pytest.mark.slow  # several seconds: a few npgpt processes under mpiexec
def test_a_killed_rank_ends_the_job_and_the_checkpoint_resumes_exactly(tmp_path):
    require_mpi()
    out = tmp_path / "killed"
    # a constant learning rate, so that the schedule does not depend on max_steps
    run = dict(eval_interval=4, batch_size=2, lr=1e-3, min_lr=1e-3, warmup_steps=0)
    cmd = mpiexec_command(2, [sys.executable, *npgpt_train(out_dir=out, max_steps=10**6, **run)])
    code, output = _run_until_checkpoint(cmd, out, lambda job: os.kill(_pid_of_rank(1, str(out)), signal.SIGKILL))
    assert code != 0, output
    saved = read_checkpoint(out / "checkpoint")  # whole and readable (written atomically)
    step, end = saved["state"]["step"], saved["state"]["step"] + 6
    assert step >= 4
    res = run_mpi(2, ["-m", "npgpt", "train", "--resume", f"--out-dir={out}", f"--max-steps={end}"])
    assert f"resumed from {out / 'checkpoint'} at step {step}" in res.stdout
    run_mpi(2, npgpt_train(out_dir=tmp_path / "straight", max_steps=end, **run))
    resumed, straight = (read_checkpoint(d / "checkpoint") for d in (out, tmp_path / "straight"))
    assert resumed["state"]["step"] == straight["state"]["step"] == end
    for k in straight["model"]:
        np.testing.assert_array_equal(resumed["model"][k], straight["model"][k])
    for k in straight["optimizer"]["state"]:
        np.testing.assert_array_equal(resumed["optimizer"]["state"][k], straight["optimizer"]["state"][k])


@pytest.mark.slow  # several seconds: a few npgpt processes under mpiexec
def test_ctrl_c_stops_every_rank_after_the_same_step_and_saves(tmp_path):
    require_mpi()
    out = tmp_path / "run"
    cmd = mpiexec_command(2, [sys.executable, *npgpt_train(out_dir=out, max_steps=10**6, eval_interval=4)])
    code, output = _run_until_checkpoint(cmd, out, lambda job: job.send_signal(signal.SIGINT))  # to every rank
    assert code != 0 and output.count("interrupted at step") == 1, output
    step = int(output.split("interrupted at step ")[1].split(":")[0])
    assert read_checkpoint(out / "checkpoint")["state"]["step"] == step


def test_a_failing_rank_aborts_the_job_instead_of_hanging(tmp_path):
    """Rank 1 is given a text file that does not exist (MPMD launch: one command per rank): it
    fails before the first collective, where rank 0 is already waiting; the job must end."""
    require_mpi()
    good = tmp_path / "good.txt"
    good.write_text("to be or not to be, that is the question\n" * 50)
    argv = [sys.executable, *npgpt_train(out_dir=tmp_path / "run", max_steps=5, warmup_steps=1)]
    mpiexec = mpiexec_command(1, [*argv, f"--data={good}"])
    cmd = [*mpiexec, ":", "-n", "1", *argv, f"--data={tmp_path / 'missing.txt'}"]
    # a hang never ends; 180 s leaves room for two interpreters starting on a busy 2-core machine
    res = subprocess.run(cmd, env=mpiexec_env(1), capture_output=True, text=True, timeout=180)
    assert res.returncode != 0
    assert "npgpt train: text file not found" in res.stderr and "ending every rank" in res.stderr


@pytest.mark.parametrize("argv", [["--distributed"], ["--zero"]])
def test_distributed_without_mpi4py_is_a_one_line_error(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if it were not installed
    code = cli.main(["train", *argv, f"--out-dir={tmp_path}", "--max-steps=1", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith(
        "npgpt train: distributed training asked for, but mpi4py is not installed: pip install -e '.[mpi]'"
    )
    assert not (tmp_path / "checkpoint").exists()
