"""``npgpt train`` under faults: kill -9 then ``--resume`` logs each step once, Ctrl-C at start-up and
a second Ctrl-C during the final save are one line and leave a resumable folder, a NaN or infinite
loss stops the run naming the step and saves nothing non-finite, and the log is strict JSON.

The runs are the tiny ones of tests/test_train.py (its fixtures are imported); a real SIGINT or
SIGKILL goes to a child process, never to the pytest process.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import test_train
from test_train import assert_same_checkpoint, quiet, tiny, without_time

import npgpt.checkpoint
import npgpt.plots
import npgpt.train as train_mod
from npgpt import cli
from npgpt.checkpoint import read_checkpoint
from npgpt.train import Diverged, SaveInterrupted, train


def strict_rows(out):
    """log.jsonl's rows, refusing NaN and Infinity (which json.loads would otherwise accept)."""

    def refuse(token):
        raise ValueError(f"{token} in log.jsonl")

    return [json.loads(line, parse_constant=refuse) for line in (out / "log.jsonl").read_text().splitlines()]


def flags(cfg):
    """The command-line flags of a tiny() config."""
    skip = {"progress"}
    out = [f"--{k.replace('_', '-')}={v}" for k, v in vars(cfg).items() if k not in skip and v is not None]
    return [f for f in out if not f.endswith("=False") and not f.endswith("=True")] + ["--no-progress"]


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    return test_train.text_file.__wrapped__(tmp_path_factory)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, text_file):
    """(checkpoint folder, TrainResult) of the 12-step run of tests/test_train.py, uninterrupted."""
    out = tmp_path_factory.mktemp("straight")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(npgpt.plots, "plot_losses", quiet)
        res = train(tiny(out, text_file), log=quiet)
    return out / "checkpoint", res


class Killed(BaseException):
    """Stands in for kill -9 in this process: nothing after it runs (no except, no final save)."""


# ----------------------------------------------------------------------------- kill -9, then --resume
def test_steps_logged_after_the_checkpoint_are_not_logged_twice(tmp_path, text_file, straight, monkeypatch):
    """Killed between logging step 10 and writing its checkpoint: the resumed run does step 10 again
    and its log holds it once, as the straight run's does."""
    real_save = train_mod.save_run

    def save_run(cfg, run, *args, **kwargs):
        if run.step == 10:
            raise Killed
        return real_save(cfg, run, *args, **kwargs)

    monkeypatch.setattr(train_mod, "save_run", save_run)
    with pytest.raises(Killed):
        train(tiny(tmp_path, text_file), log=quiet)
    assert [r["step"] for r in strict_rows(tmp_path)] == [0, 5, 10]  # 10 logged, checkpoint still at 5
    assert read_checkpoint(tmp_path / "checkpoint")["state"]["step"] == 5
    monkeypatch.setattr(train_mod, "save_run", real_save)
    train(tiny(tmp_path, text_file), resume=True, log=quiet)
    rows = strict_rows(tmp_path)
    assert [r["step"] for r in rows] == [0, 5, 10, 12]
    assert without_time(rows) == without_time(straight[1].history)
    assert not (tmp_path / "log.jsonl.tmp").exists()


@pytest.mark.slow  # a few seconds: several npgpt processes killed at random moments
def test_kill_9_at_random_moments_then_resume_gives_the_straight_run(tmp_path, text_file, straight):
    cfg = tiny(tmp_path, text_file)
    cmd = [sys.executable, "-m", "npgpt", "train", *flags(cfg)]
    rng = np.random.default_rng(0)
    for i in range(3):
        job = subprocess.Popen(cmd + ["--resume"] * (i > 0), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.5, 2.5))  # start-up, the first steps, a save: wherever it lands
        job.kill()
        job.communicate(timeout=60)
    has_checkpoint = (tmp_path / "checkpoint" / "state.json").exists() or (tmp_path / "checkpoint.old").exists()
    res = subprocess.run(cmd + ["--resume"] * has_checkpoint, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert_same_checkpoint(straight[0], tmp_path / "checkpoint")
    assert without_time(strict_rows(tmp_path)) == without_time(straight[1].history)


# ----------------------------------------------------------------------------- Ctrl-C
CHILD = """
import signal, sys
sys.argv[0] = "npgpt"  # as the console script: npgpt/_startup.py holds Ctrl-C from the first import
import npgpt.cli
print("ready", flush=True)
sys.exit(npgpt.cli.main(sys.argv[1:]))
"""


@pytest.mark.slow  # a few seconds: one npgpt process per moment
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_ctrl_c_in_the_first_second_is_one_line_and_leaves_a_resumable_folder(tmp_path, text_file, delay):
    cfg = tiny(tmp_path / "run", text_file, max_steps=400)
    job = subprocess.Popen(
        [sys.executable, "-c", CHILD, "train", *flags(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert job.stdout.readline().strip() == "ready"  # npgpt is imported: from here on, npgpt's handling
    time.sleep(delay)
    job.send_signal(signal.SIGINT)
    out, err = job.communicate(timeout=300)
    assert job.returncode == 130, (out, err)
    assert "Traceback" not in err + out and len(err.strip().splitlines()) <= 1, err
    if (tmp_path / "run" / "checkpoint").exists():  # stopped after the first evaluation: saved, resumable
        assert train(cfg, resume=True, stop_after=2, log=quiet).step >= 2


SECOND_CTRL_C = """
import os, signal, sys
import npgpt.checkpoint, npgpt.cli, npgpt.train
calls = {"set_lr": 0}
real_set_lr, real_save = npgpt.train.set_lr, npgpt.checkpoint._save_arrays

def set_lr(opt, lr):  # called once at the start of every step
    calls["set_lr"] += 1
    if calls["set_lr"] == 7:  # during step 7: Ctrl-C (held until the step is done)
        os.kill(os.getpid(), signal.SIGINT)
    return real_set_lr(opt, lr)

def save_arrays(*args):
    if calls["set_lr"] >= 7:  # the final save after that Ctrl-C: a second one
        os.kill(os.getpid(), signal.SIGINT)
    return real_save(*args)

npgpt.train.set_lr, npgpt.checkpoint._save_arrays = set_lr, save_arrays
sys.exit(npgpt.cli.main(sys.argv[1:]))
"""


def test_a_second_ctrl_c_during_the_final_save_is_one_line_and_keeps_the_checkpoint(tmp_path, text_file, straight):
    cfg = tiny(tmp_path, text_file)
    res = subprocess.run(
        [sys.executable, "-c", SECOND_CTRL_C, "train", *flags(cfg)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 130 and "Traceback" not in res.stderr + res.stdout, res.stderr
    assert "another Ctrl-C: the save was abandoned" in res.stdout
    assert read_checkpoint(tmp_path / "checkpoint")["state"]["step"] == 5  # the previous checkpoint, whole
    train(cfg, resume=True, log=quiet)
    assert_same_checkpoint(straight[0], tmp_path / "checkpoint")
    assert without_time(strict_rows(tmp_path)) == without_time(straight[1].history)


def test_an_interrupted_final_save_raises_save_interrupted_in_process(tmp_path, text_file, monkeypatch):
    cfg = tiny(tmp_path, text_file)
    train(cfg, stop_after=5, log=quiet)  # checkpoint at step 5
    monkeypatch.setattr(npgpt.checkpoint, "_save_arrays", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    messages = []
    with pytest.raises(KeyboardInterrupt) as e:  # not SaveInterrupted: a plain one would end this session
        train(cfg, resume=True, stop_after=2, log=messages.append)  # ends at 7: the final save is interrupted
    assert isinstance(e.value, SaveInterrupted)
    assert any("the save was abandoned" in m for m in messages)
    assert read_checkpoint(tmp_path / "checkpoint")["state"]["step"] == 5


# ----------------------------------------------------------------------------- NaN and infinity
def nan_weights_at(monkeypatch, step):
    """At the start of step ``step`` (1-based) a weight becomes NaN: that step's loss is NaN."""
    real = train_mod.set_lr
    calls = {"n": 0}

    def set_lr(opt, lr):
        calls["n"] += 1
        if calls["n"] == step:
            opt.param_groups[0]["params"][0].data[...] = np.nan
        real(opt, lr)

    monkeypatch.setattr(train_mod, "set_lr", set_lr)


@pytest.mark.parametrize("eval_interval", [2, 5])
def test_a_nan_loss_stops_the_run_naming_the_step_and_saves_nothing_non_finite(
    tmp_path, text_file, monkeypatch, eval_interval
):
    nan_weights_at(monkeypatch, 7)
    with pytest.raises(Diverged, match=r"at step 7: training stopped \(the last checkpoint in .* is kept\)") as e:
        train(tiny(tmp_path, text_file, eval_interval=eval_interval), log=quiet)
    assert "\n" not in str(e.value)
    ck = read_checkpoint(tmp_path / "checkpoint")
    assert ck["state"]["step"] in (5, 6) and all(np.isfinite(v).all() for v in ck["model"].values())
    assert all(np.isfinite(v).all() for v in ck["optimizer"]["state"].values())
    assert max(r["step"] for r in strict_rows(tmp_path)) == ck["state"]["step"]


def test_npgpt_train_says_so_in_one_line(tmp_path, text_file, monkeypatch, capsys):
    nan_weights_at(monkeypatch, 7)
    assert cli.main(["train", *flags(tiny(tmp_path, text_file))]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not finite" in err and "step 7" in err, err


def test_the_guard_names_the_first_bad_step_without_reading_every_one():
    guard = train_mod._FiniteGuard()
    for step, loss in enumerate([1.0, 2.0, math.inf, math.nan, 1.0], start=1):
        guard.update(npgpt.tensor(np.float32(loss)), step)
    with pytest.raises(Diverged, match="at step 3"):
        guard.check()
    train_mod._FiniteGuard().check()  # nothing seen: nothing to say


def test_weights_that_are_not_finite_are_never_saved(tmp_path, text_file):
    cfg = tiny(tmp_path, text_file)
    train(cfg, stop_after=5, log=quiet)
    run = train_mod._setup(cfg, True, False, quiet)[0]
    next(iter(run.model.parameters())).data[0] = np.inf
    with pytest.raises(Diverged, match="is not finite after step 5"):
        train_mod.save_run(cfg, run, None, tmp_path)
    assert all(np.isfinite(v).all() for v in read_checkpoint(tmp_path / "checkpoint")["model"].values())


# ----------------------------------------------------------------------------- a malformed state.json
@pytest.mark.parametrize(
    "change",
    [{"step": "x"}, {"step": -1}, {"history": 3}, {"history": [1]}, {"batch_rng": None}, {"optimizer": {}}],
    ids=repr,
)
def test_a_malformed_state_json_is_one_line_on_resume(tmp_path, text_file, capsys, change):
    cfg = tiny(tmp_path, text_file)
    train(cfg, stop_after=5, log=quiet)
    p = tmp_path / "checkpoint" / "state.json"
    p.write_text(json.dumps({**json.loads(p.read_text()), **change}))
    assert cli.main(["train", *flags(cfg), "--resume"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "checkpoint" in err, err


def test_run_child_scripts_are_valid_python():
    for src in (CHILD, SECOND_CTRL_C):
        compile(textwrap.dedent(src), "<child>", "exec")


# ----------------------------------------------------------------------------- Ctrl-C while the command imports
AS_COMMAND = """
import os, signal, sys, time
sys.argv[0] = "/usr/bin/npgpt"  # as the console script is started
import npgpt
assert signal.getsignal(signal.SIGINT).__name__ == "leave_quietly"
os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C while NumPy and the commands are still importing
time.sleep(30)
"""


def test_ctrl_c_while_the_npgpt_command_imports_is_one_line():
    res = subprocess.run([sys.executable, "-c", AS_COMMAND], capture_output=True, text=True, timeout=60)
    assert res.returncode == 130 and res.stderr.strip() == "npgpt: interrupted", res.stderr


def test_as_a_library_npgpt_leaves_ctrl_c_alone_and_the_cli_restores_it():
    code = (
        "import signal, npgpt, npgpt.cli, npgpt._startup as s\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "assert not s.run_as_command()\n"
        "signal.signal(signal.SIGINT, s.leave_quietly)  # as when run as the command\n"
        "try:\n    npgpt.cli.main(['train', '--no-such-flag'])\nexcept SystemExit:\n    pass\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_a_learning_rate_that_blows_up_is_one_line_without_numpy_warnings(tmp_path, text_file, capsys):
    cfg = dataclasses.replace(tiny(tmp_path, text_file), lr=1e30)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert cli.main(["train", *flags(cfg)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not finite" in err, err
    assert not [w for w in seen if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in seen]


def test_eval_batches_has_an_upper_bound(capsys):
    # the fixed evaluation batches are held in memory: a billion of them is refused, not allocated
    assert cli.main(["train", "--eval-batches", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "eval-batches" in err, err
