"""The chat stages (sft, reward, rl, dpo) and the command line under abuse (issue 19).

Bad numbers are one-line errors before anything runs; a run folder is never replaced by mistake;
a stopped run (Ctrl-C, kill -9) resumes to the same bits as one that never stopped; a NaN stops
the run with the step named and is never saved; bad data is refused before the first step. Tiny
models (1 layer, width 16) and a few steps each.
"""

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from npgpt.chat import common
from npgpt.cli import build_parser
from npgpt.cli import main as cli
from npgpt.data import shakespeare_path
from npgpt.settings import Range
from npgpt.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
QUIET = ["--no-progress"]


def _base(out, data="shakespeare"):
    cfg = TrainConfig(
        data=str(data), out_dir=str(out), n_layer=1, n_head=2, n_embd=16, max_steps=2, warmup_steps=1,
        eval_interval=2, eval_batches=1, sample_chars=0, progress=False,
    )  # fmt: skip
    train(cfg, log=lambda *a: None)
    return out / "checkpoint"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A base model, its SFT model and a reward model, each a few steps."""
    d = tmp_path_factory.mktemp("hostile")
    _base(d / "base")
    assert cli(["sft", "--init-from", f"{d}/base/checkpoint", "--out-dir", f"{d}/sft", "--max-steps", "2",
                "--eval-questions", "0", *QUIET]) == 0  # fmt: skip
    assert (
        cli(["reward", "--init-from", f"{d}/sft/checkpoint", "--out-dir", f"{d}/rm", "--max-steps", "2", *QUIET]) == 0
    )
    return d


def _cli(capsys, *argv):
    """(exit code, stdout, stderr) of ``npgpt argv``; an argparse error counts as its exit code."""
    try:
        rc = cli([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _one_line(err, command):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"npgpt {command}"), err
    return lines[0]


def _stage_args(stage, runs, out, steps=4):
    """The argv of a tiny run of ``stage`` into ``out`` (rl-checker: ``npgpt rl --reward checker``)."""
    if stage == "rl-checker":
        argv = _stage_args("rl", runs, out, steps)
        at = argv.index("--reward-model")
        return argv[:at] + ["--reward", "checker", "--wrong-reward", -1, "--idk-mix", 0.3] + argv[at + 2 :]
    argv = [stage, "--init-from", runs / "sft" / "checkpoint", "--out-dir", out, "--max-steps", steps, *QUIET]
    if stage == "reward":
        return argv + ["--batch-size", 4, "--eval-interval", 1]
    if stage == "rl":
        return argv + ["--reward-model", runs / "rm" / "checkpoint", "--prompts", 2, "--samples", 2,
                       "--max-new-tokens", 6, "--eval-questions", 0]  # fmt: skip
    return argv + ["--batch-size", 4, "--eval-interval", 1, "--eval-questions", 0]


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _log(folder):
    def no_nan(token):
        raise AssertionError(f"log.jsonl holds {token}")

    return [json.loads(line, parse_constant=no_nan) for line in (Path(folder) / "log.jsonl").read_text().splitlines()]


# ----------------------------------------------------------------------------- numbers at the door
def _commands():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_numeric_flag_of_every_command_has_its_range_in_help():
    checked = 0
    for name, parser in _commands().items():
        for action in parser._actions:
            assert action.type not in (int, float), f"npgpt {name} {action.option_strings}: a number without a range"
            if getattr(action.type, "__self__", None).__class__ is Range:
                assert str(action.type.__self__) in action.help, (name, action.option_strings, action.help)
                checked += 1
    assert checked >= 60  # train's, the four stages', sample's, chat's, tokenize's and the benchmarks'


BAD_FLAGS = [
    ("train", "--batch-size", "0"),
    ("train", "--max-steps", "0"),
    ("train", "--grad-clip", "nan"),
    ("train", "--eval-interval", "0"),
    ("train", "--dropout", "1.5"),
    ("train", "--lr", "inf"),
    ("train", "--seed", "-1"),
    ("sft", "--batch-size", "-3"),  # spun at 100% CPU for ever
    ("sft", "--batch-size", "0"),
    ("sft", "--max-steps", "0"),  # said "invalid warmup_steps: -1"
    ("sft", "--eval-interval", "0"),
    ("sft", "--grad-clip", "nan"),  # quietly meant "off"
    ("sft", "--lr", "-1"),
    ("sft", "--eval-questions", "-1"),
    ("reward", "--batch-size", "0"),
    ("reward", "--max-steps", "-1"),
    ("rl", "--samples", "0"),  # IndexError
    ("rl", "--prompts", "0"),
    ("rl", "--kl-coef", "nan"),  # saved an all-NaN model
    ("rl", "--kl-coef", "-1"),
    ("rl", "--clip-eps", "-1"),
    ("rl", "--clip-eps", "0"),
    ("rl", "--max-new-tokens", "0"),
    ("rl", "--temperature", "0"),
    ("rl", "--ppo-epochs", "0"),
    ("rl", "--missing-end-penalty", "inf"),
    ("rl", "--wrong-reward", "-2"),
    ("rl", "--wrong-reward", "1"),
    ("rl", "--idk-mix", "1"),
    ("dpo", "--nll-coef", "-1"),
    ("dpo", "--beta", "nan"),  # saved an all-NaN model
    ("dpo", "--beta", "0"),
    ("dpo", "--beta", "-1"),
    ("dpo", "--batch-size", "-1"),  # spun at 100% CPU for ever
    ("dpo", "--max-steps", "1e3"),
    ("chat", "--top-p", "0"),
    ("chat", "--max-new-tokens", "0"),
    ("chat", "--temperature", "nan"),
    ("sample", "--top-k", "0"),
    ("sample", "--max-new-tokens", "-1"),
    ("tokenize", "--vocab-size", "100"),
    ("bench", "--steps", "0"),
    ("bench-dist", "--ranks", "0"),
]


@pytest.mark.parametrize("command, flag, value", BAD_FLAGS)
def test_a_number_out_of_range_is_one_line_before_anything_runs(tmp_path, capsys, command, flag, value):
    rc, out, err = _cli(capsys, command, flag, value, "--out-dir" if command in ("train", "sft") else "--help", "x")
    line = _one_line(err, command)
    assert rc == 2 and out == "" and f"argument {flag}: " in line and ("must be" in line or "invalid" in line)


def test_settings_from_python_are_checked_too(tmp_path):
    from npgpt.chat.dpo import DPOConfig, dpo
    from npgpt.chat.sft import SFTConfig, sft

    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got -1"):
        sft(SFTConfig(batch_size=-1, out_dir=str(tmp_path / "a")))
    with pytest.raises(ValueError, match="beta must be a finite number > 0, got nan"):
        dpo(DPOConfig(beta=float("nan"), out_dir=str(tmp_path / "b")))
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- the run folder
@pytest.mark.parametrize("stage", ["sft", "reward", "rl", "rl-checker", "dpo"])
def test_a_folder_holding_a_checkpoint_is_refused_without_overwrite(runs, tmp_path, capsys, stage):
    out = tmp_path / stage
    assert _cli(capsys, *_stage_args(stage, runs, out, steps=1))[0] == 0
    before = _digest(out)
    rc, _, err = _cli(capsys, *_stage_args(stage, runs, out, steps=1))
    command = stage.split("-")[0]
    assert rc == 2 and "already holds a run's checkpoint" in _one_line(err, command) and _digest(out) == before
    rc, _, err = _cli(capsys, *_stage_args(stage, runs, out, steps=1), "--resume", "--overwrite")
    assert rc == 2 and "give one of them" in _one_line(err, command) and _digest(out) == before
    assert _cli(capsys, *_stage_args(stage, runs, out, steps=1), "--overwrite")[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["sft", "--init-from", "{d}/sft/checkpoint", "--out-dir", "{d}/sft"],
        ["sft", "--init-from", "{d}/sft/checkpoint", "--out-dir", "{d}/sft/checkpoint"],
        ["dpo", "--init-from", "{d}/sft/checkpoint", "--out-dir", "{d}/sft/checkpoint/inside"],
        ["reward", "--init-from", "{d}/sft/checkpoint", "--out-dir", "{d}/sft"],
        ["rl", "--init-from", "{d}/sft/checkpoint", "--reward-model", "{d}/rm/checkpoint", "--out-dir", "{d}/rm"],
        ["train", "--init-from", "{d}/base/checkpoint", "--out-dir", "{d}/base"],
    ],
)
def test_the_run_being_read_is_never_written_even_with_overwrite(runs, capsys, argv):
    before = _digest(runs)
    rc, _, err = _cli(capsys, *[a.format(d=runs) for a in argv], "--overwrite", "--no-progress")
    assert rc == 2 and "a run never writes over the run it reads" in _one_line(err, argv[0])
    assert _digest(runs) == before


def test_resume_needs_a_checkpoint_and_the_same_settings(runs, tmp_path, capsys):
    rc, _, err = _cli(capsys, "dpo", "--out-dir", tmp_path / "none", "--resume")
    assert rc == 2 and "no checkpoint" in _one_line(err, "dpo")
    out = tmp_path / "sft"
    assert _cli(capsys, *_stage_args("sft", runs, out, steps=2))[0] == 0
    rc, _, err = _cli(capsys, "sft", "--out-dir", out, "--resume", "--lr", "0.5")
    assert rc == 2 and "--lr 0.5 conflicts with the checkpoint" in _one_line(err, "sft")
    rc, _, err = _cli(capsys, "dpo", "--out-dir", out, "--resume")
    assert rc == 2 and "holds an `npgpt sft` checkpoint" in _one_line(err, "dpo")


# ----------------------------------------------------------------------------- stops and exact resumes
def _ctrl_c_at_update(monkeypatch, n):
    """Press Ctrl-C (a real SIGINT to this process) during the n-th optimizer update."""
    real, calls = common.Trainer.step, {"n": 0}

    def step(self, loss, at):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, loss, at)

    monkeypatch.setattr(common.Trainer, "step", step)


def _same_run(a, b):
    for name in ("model.safetensors", "optimizer.safetensors"):
        x, y = load_file(str(a / "checkpoint" / name)), load_file(str(b / "checkpoint" / name))
        assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x), name
    assert _log(a) == _log(b)


@pytest.mark.parametrize("stage", ["sft", "reward", "rl", "rl-checker", "dpo"])
def test_ctrl_c_then_resume_is_bit_identical_to_an_uninterrupted_run(runs, tmp_path, capsys, monkeypatch, stage):
    whole, cut, command = tmp_path / "whole", tmp_path / "cut", stage.split("-")[0]
    assert _cli(capsys, *_stage_args(stage, runs, whole))[0] == 0
    _ctrl_c_at_update(monkeypatch, 3 if command == "rl" else 2)  # rl: mid-step (two PPO updates a step)
    rc, _, err = _cli(capsys, *_stage_args(stage, runs, cut))
    assert rc == 130 and "interrupted at step 2: the checkpoint of step 2" in _one_line(err, command)
    assert "continue with --resume" in err and [r["step"] for r in _log(cut)] == [1, 2]
    monkeypatch.undo()
    with open(cut / "log.jsonl", "a") as f:  # a kill -9 after a row and before its checkpoint
        f.write('{"step": 3, "loss": 1.0}\n{"step": 4, "lo')
    assert _cli(capsys, command, "--out-dir", cut, "--resume", *QUIET)[0] == 0
    _same_run(whole, cut)
    if stage == "rl-checker":  # the resumed run kept its settings: checker, no reward model read
        assert json.loads((cut / "checkpoint" / "config.json").read_text())["train"]["reward"] == "checker"


def test_a_checker_run_reads_no_reward_model(runs, tmp_path, capsys):
    argv = [*_stage_args("rl-checker", runs, tmp_path / "rl", steps=1), "--reward-model", tmp_path / "nowhere"]
    assert _cli(capsys, *argv)[0] == 0


def test_a_stop_before_the_first_checkpoint_of_an_overwrite_leaves_no_old_checkpoint(
    runs, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "sft"
    assert _cli(capsys, *_stage_args("sft", runs, out, steps=1))[0] == 0
    _ctrl_c_at_update(monkeypatch, 1)
    rc, _, err = _cli(capsys, *_stage_args("sft", runs, out, steps=3), "--eval-interval", 3, "--overwrite")
    assert rc == 130 and "interrupted at step 1: the checkpoint of step 1" in _one_line(err, "sft")
    assert not (out / "log.jsonl").exists()  # the old run's log went with its checkpoint
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 1
    monkeypatch.undo()
    assert _cli(capsys, "sft", "--out-dir", out, "--resume", *QUIET)[0] == 0
    assert [r["step"] for r in _log(out)] == [3]


def test_ctrl_c_at_start_up_and_in_the_final_evaluation_are_one_line(runs, tmp_path, capsys, monkeypatch):
    from npgpt.chat import evaluate, sft

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sft, "load_policy", interrupt)
    rc, _, err = _cli(capsys, *_stage_args("sft", runs, tmp_path / "a"))
    assert rc == 130 and "interrupted before the run started" in _one_line(err, "sft")
    assert not (tmp_path / "a").exists()
    monkeypatch.undo()
    monkeypatch.setattr(evaluate, "accuracy", interrupt)
    argv = [*_stage_args("sft", runs, tmp_path / "b", steps=2), "--eval-questions", 3]
    rc, _, err = _cli(capsys, *argv)
    assert rc == 130 and "during the held-out evaluation: the checkpoint of step 2" in _one_line(err, "sft")
    monkeypatch.undo()
    rc, out, _ = _cli(capsys, "sft", "--out-dir", tmp_path / "b", "--resume", *QUIET)
    assert rc == 0 and json.loads(out.splitlines()[-1])["accuracy"]["n"] == 3


def test_a_nan_loss_stops_with_the_step_named_and_nothing_non_finite_is_saved(runs, tmp_path, capsys):
    out = tmp_path / "dpo"
    rc, _, err = _cli(capsys, *_stage_args("dpo", runs, out, steps=6), "--lr", "1e30")
    line = _one_line(err, "dpo")
    assert rc == 2 and "at step" in line and ("nan" in line or "inf" in line or "not finite" in line), line
    rows = _log(out)  # valid JSON, no NaN
    if (out / "checkpoint").exists():
        weights = load_file(str(out / "checkpoint" / "model.safetensors"))
        assert all(np.isfinite(w).all() for w in weights.values())
        assert rows[-1]["step"] == json.loads((out / "checkpoint" / "state.json").read_text())["step"]


def test_a_nan_stop_is_one_line_on_a_real_terminal_too(runs, tmp_path):
    """numpy's overflow warnings would add lines on stderr: the loop checks finiteness itself."""
    p = subprocess.run(
        [sys.executable, "-m", "npgpt", *map(str, _stage_args("sft", runs, tmp_path / "sft", steps=4)), "--lr", "1e30"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert p.returncode == 2 and "at step" in _one_line(p.stderr, "sft"), p.stderr


def test_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    from npgpt import train as train_module

    def no_memory(*a, **k):
        raise MemoryError("Unable to allocate 283. GiB for an array with shape (76, 1000000000)")

    monkeypatch.setattr(train_module, "build_run", no_memory)
    rc, _, err = _cli(capsys, "train", "--out-dir", tmp_path / "t", "--n-embd", 10**9, "--warmup-steps", 0, *QUIET)
    assert rc == 2 and "Unable to allocate 283. GiB" in _one_line(err, "train")


# ----------------------------------------------------------------------------- inputs before the first step
CONVERSATION = (
    '{"messages": [{"role": "user", "content": "Which play? To be"}, {"role": "assistant", "content": "Hamlet"}]}'
)


@pytest.mark.parametrize(
    "stage, flag, lines, message",
    [
        ("sft", "--data", ["[" * 100_000], "1: not a record (its JSON is nested too deeply)"),
        ("rl", "--data", [CONVERSATION] * 6 + ['{"messages": [}'], "7: not valid JSON"),  # was "line 1 column 15"
        ("rl", "--data", ['{"prompt": "hi"}'], "1: no 'messages' key"),  # KeyError
        ("rl", "--data", ['{"messages": [{"role": "user", "content": "hi"}]}'], "1: the conversation has no assistant"),
        (
            "sft",
            "--val-data",
            [CONVERSATION, '{"messages": [{"role": "assistant", "content": "Hamlet"}]}'],
            "2: the prompt has no user turn",
        ),  # fmt: skip
        (
            "dpo",
            "--val-data",
            [
                '{"messages": [{"role": "user", "content": "Which play? \\u2603"}, '
                '{"role": "assistant", "content": "x"}]}'
            ],
            "1: cannot encode",
        ),  # fmt: skip
        ("rl", "--data", [CONVERSATION.replace("To be", "x" * 70)], "1: the prompt is 8"),  # no room for a reply
        (
            "dpo",
            "--data",
            ['{"prompt": [{"role": "assistant", "content": "hi"}], "chosen": "a", "rejected": "b"}'],
            "1: the prompt has no user turn",
        ),  # fmt: skip
        (
            "reward",
            "--data",
            ['{"prompt": "q", "chosen": "a", "rejected": "a"}'],
            "1: 'chosen' and 'rejected' are the same",
        ),
    ],
)
def test_bad_data_is_refused_before_the_first_step(runs, tmp_path, capsys, stage, flag, lines, message):
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    argv = [*_stage_args(stage, runs, tmp_path / "out"), flag, data]
    if flag == "--val-data":
        argv += ["--eval-questions", 5]
    rc, _, err = _cli(capsys, *argv)
    assert rc == 2 and f"data.jsonl:{message}" in _one_line(err, stage)
    assert not (tmp_path / "out").exists()  # nothing written


def test_data_that_is_not_utf8_is_one_line(runs, tmp_path, capsys):
    data = tmp_path / "latin1.jsonl"
    data.write_bytes(CONVERSATION.replace("Hamlet", "caf\xe9").encode("latin-1"))
    rc, _, err = _cli(capsys, *_stage_args("sft", runs, tmp_path / "out"), "--data", data)
    assert rc == 2 and "latin1.jsonl: not UTF-8 text" in _one_line(err, "sft")


def test_rl_refuses_a_reward_model_of_another_tokenizer(runs, tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("\u00e9" + shakespeare_path().read_text(encoding="utf-8"), encoding="utf-8")
    _base(tmp_path / "base2", text)  # one character more: every id above it moves
    reward = ["reward", "--init-from", tmp_path / "base2" / "checkpoint", "--out-dir", tmp_path / "rm2"]
    assert _cli(capsys, *reward, "--max-steps", 1, *QUIET)[0] == 0
    argv = [*_stage_args("rl", runs, tmp_path / "rl")]
    argv[argv.index("--reward-model") + 1] = tmp_path / "rm2" / "checkpoint"
    rc, _, err = _cli(capsys, *argv)
    assert rc == 2 and "its tokenizer differs from the policy's" in _one_line(err, "rl")


def test_rl_from_a_base_model_gives_its_reference_the_chat_tokens(runs, tmp_path, capsys):
    argv = _stage_args("rl", runs, tmp_path / "rl", steps=1)
    argv[argv.index("--init-from") + 1] = runs / "base" / "checkpoint"  # was "idx has ids outside [0, 76)"
    assert _cli(capsys, *argv)[0] == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sft", "--init-from", "{d}/rm/checkpoint"], "is a reward model checkpoint, but a language model is needed"),
        (
            ["rl", "--reward-model", "{d}/sft/checkpoint"],
            "is a language model checkpoint, but a reward model is needed",
        ),
        (["dpo", "--init-from", "{d}/nowhere"], "no checkpoint at"),
    ],
)
def test_a_checkpoint_of_the_wrong_kind_is_one_line(runs, tmp_path, capsys, argv, message):
    full = _stage_args(argv[0], runs, tmp_path / "out")
    full[full.index(argv[1]) + 1] = argv[2].format(d=runs)
    rc, _, err = _cli(capsys, *full)
    assert rc == 2 and message in _one_line(err, argv[0])


# ----------------------------------------------------------------------------- real signals (subprocesses)
def _spawn(*argv):
    return subprocess.Popen(
        [sys.executable, "-m", "npgpt", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, "OPENBLAS_NUM_THREADS": "1"},
    )


def _wait_for_rows(out, n, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        if (out / "log.jsonl").exists() and len((out / "log.jsonl").read_text().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {n} log rows: {proc.poll()}")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C", "Ctrl-C twice"])
def test_a_real_stop_resumes_to_the_uninterrupted_run(runs, tmp_path, capsys, how):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    argv = _stage_args("sft", runs, whole, steps=60)
    assert _cli(capsys, *argv)[0] == 0
    proc = _spawn(*_stage_args("sft", runs, cut, steps=60))
    _wait_for_rows(cut, 3, proc)
    if how == "kill -9":
        proc.kill()
    else:
        proc.send_signal(signal.SIGINT)
        if how == "Ctrl-C twice":
            proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if how != "kill -9":
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and "continue with --resume" in err, err
    assert _cli(capsys, "sft", "--out-dir", cut, "--resume", *QUIET)[0] == 0
    _same_run(whole, cut)
