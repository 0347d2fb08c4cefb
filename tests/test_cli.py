"""The ``npgpt`` command line: ``train``, ``sample``, ``gradcheck`` and ``python -m npgpt``.

Commands run in-process through ``npgpt.cli.main([...])`` (so an uncaught exception fails the test
instead of printing a traceback) and once as a subprocess. User mistakes must give one line
``npgpt <command>: ...`` on stderr and exit code 2; Ctrl-C gives 130.
"""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import CUDA_AVAILABLE

from npgpt.cli import main
from npgpt.commands.sample import sample_text
from npgpt.data import TextDataset
from npgpt.train import TrainConfig

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 60  # vocabulary: 17 characters


def train_args(out, data, *extra):
    return [
        "train",
        "--data",
        str(data),
        "--out-dir",
        str(out),
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd",
        "16",
        "--block-size",
        "16",
        "--batch-size",
        "4",
        "--max-steps",
        "10",
        "--warmup-steps",
        "2",
        "--eval-interval",
        "5",
        "--eval-batches",
        "1",
        "--sample-chars",
        "0",
        "--no-progress",
        *extra,
    ]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "cats.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_file):
    """``npgpt train`` end to end (with its closing sample): (checkpoint folder, stdout)."""
    out = tmp_path_factory.mktemp("run")
    buf = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdout", buf)
        rc = main(train_args(out, data_file, "--sample-chars", "30"))
    assert rc == 0
    return out / "checkpoint", buf.getvalue()


def test_train_end_to_end(trained):
    ck, stdout = trained
    assert "done at step 10" in stdout and "train loss" in stdout
    sample = stdout.split("--- a sample (temperature 0.8, top-k 40) ---\n", 1)[1]
    assert len(sample.strip("\n")) > 0 and set(sample) <= set(TEXT)
    assert sorted(p.name for p in ck.parent.iterdir()) == ["checkpoint", "log.jsonl", "loss.png"]


# ----------------------------------------------------------------------------- npgpt sample
def run_cli(capsys, *argv):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # a flag out of its range: argparse's one-line error
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def test_sample_streams_reproducibly(trained, capsys):
    ck, _ = trained
    rc, out, err = run_cli(
        capsys, "sample", "--checkpoint", ck, "--prompt", "the ", "--max-new-tokens", 40, "--seed", 3
    )
    assert rc == 0 and err == ""
    assert out.startswith("the ") and out.endswith("\n") and len(out) == 4 + 40 + 1
    assert set(out) <= set(TEXT)
    rc2, out2, _ = run_cli(
        capsys, "sample", "--checkpoint", ck, "--prompt", "the ", "--max-new-tokens", 40, "--seed", 3
    )
    assert rc2 == 0 and out2 == out
    _, out3, _ = run_cli(
        capsys,
        "sample",
        "--checkpoint",
        ck,
        "--prompt",
        "the ",
        "--max-new-tokens",
        40,
        "--seed",
        4,
        "--temperature",
        1.5,
    )
    assert out3 != out
    # the same text through the Python API (the CLI's default temperature is 0.8)
    assert sample_text(ck, "the ", 40, temperature=0.8, seed=3) + "\n" == out


def test_sample_writes_each_character_as_it_is_made(trained):
    ck, _ = trained
    writes = []

    class Out:
        def write(self, s):
            writes.append(s)

        def flush(self):
            writes.append("<flush>")

    text = sample_text(ck, "on ", 12, temperature=0.0, stream=True, out=Out())
    chars = [w for w in writes if w != "<flush>"]
    assert chars[0] == "on " and len(chars) == 13 and all(len(c) == 1 for c in chars[1:])
    assert writes.count("<flush>") == 13  # flushed after the prompt and after every character
    assert "".join(chars) == text


def test_sample_greedy_with_a_long_prompt(trained, capsys):
    ck, _ = trained
    prompt = TEXT[:40]  # longer than block_size = 16: cropped
    rc, out, _ = run_cli(
        capsys, "sample", "--checkpoint", ck, "--prompt", prompt, "--max-new-tokens", 20, "--temperature", 0
    )
    assert rc == 0 and out.startswith(prompt) and len(out) == 40 + 20 + 1


def test_sample_unknown_character_names_it(trained, capsys):
    ck, _ = trained
    rc, out, err = run_cli(capsys, "sample", "--checkpoint", ck, "--prompt", "the Zebra€", "--seed", 0)
    assert rc == 2 and out == ""
    assert err.strip().startswith("npgpt sample: ")
    assert "'Z'" in err and "'€'" in err and "not in the vocabulary" in err


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--temperature", "-1"], "--temperature: must be a finite number >= 0"),
        (["--top-k", "0"], "--top-k: must be an integer >= 1"),
        (["--top-p", "0"], r"--top-p: must be a finite number in \(0, 1\]"),
        (["--top-p", "1.5"], r"--top-p: must be a finite number in \(0, 1\]"),
        (["--max-new-tokens", "-5"], "--max-new-tokens: must be an integer >= 0"),
        (["--prompt", ""], "the prompt is empty"),
    ],
)
def test_sample_bad_settings(trained, capsys, flags, match):
    ck, _ = trained
    rc, out, err = run_cli(capsys, "sample", "--checkpoint", ck, *flags)
    assert rc == 2 and out == ""  # nothing printed before the error
    assert re.search(r"^npgpt sample: .*" + match, err.strip()) and "\n" not in err.strip()


def test_sample_missing_checkpoint(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "sample", "--checkpoint", tmp_path / "nope")
    assert rc == 2 and "npgpt sample: no checkpoint at" in err


@pytest.mark.skipif(CUDA_AVAILABLE, reason="checks the message shown where CuPy or a GPU is missing")
def test_sample_on_cuda_without_a_gpu(trained, capsys):
    ck, _ = trained
    rc, out, err = run_cli(capsys, "sample", "--checkpoint", ck, "--device", "cuda", "--max-new-tokens", 3)
    assert rc == 2 and "npgpt sample: " in err and "cuda" in err.lower()


# ----------------------------------------------------------------------------- npgpt train
def test_train_help_lists_every_setting_with_its_default(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    # one entry per option: a line "  --flag ..." and its indented continuation lines, joined
    entries = [" ".join(e.split()) for e in re.split(r"\n(?=  -)", help_text.split("options:", 1)[1])]
    by_flag = {e.split()[0].rstrip(","): e for e in entries if e.startswith("--")}
    fields = dataclasses.fields(TrainConfig)
    flags = ["--" + f.name.replace("_", "-") for f in fields]
    assert [f for f in by_flag if f in flags] == flags  # every setting, in the dataclass order
    for f, flag in zip(fields, flags):
        shown = f"({f.metadata['range']}; default: {f.default})" if f.metadata["range"] else f"(default: {f.default})"
        assert by_flag[flag].endswith(shown), by_flag[flag]
        if f.type in ("bool", bool):
            assert by_flag[flag].startswith(f"{flag}, --no-{flag[2:]} ")
    text = help_text
    assert "--config" in text and "--resume" in text


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--eval-interval", "0"], "--eval-interval: must be an integer >= 1"),
        (["--n-head", "3"], "n_embd=16 is not divisible by n_head=3"),
        (["--lr", "-1"], "--lr: must be a finite number > 0"),
        (["--dtype", "float16"], "dtype must be float32 or float64"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--pos-encoding", "alibi"], "pos_encoding must be one of"),
        (["--warmup-steps", "20"], r"warmup_steps \(20\) must be less than max_steps \(10\)"),
        (["--block-size", "5000"], "needs at least 5001"),
        (["--resume"], "no checkpoint at"),
    ],
)
def test_train_bad_settings_exit_2(tmp_path, data_file, capsys, flags, match):
    rc, out, err = run_cli(capsys, *train_args(tmp_path / "run", data_file, *flags))
    assert rc == 2
    assert re.search(r"^npgpt train: .*" + match, err.strip()), err
    assert len(err.strip().splitlines()) == 1


def test_train_data_and_config_file_errors(tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("na\xefve ".encode("latin-1") * 100)
    rc, _, err = run_cli(capsys, *train_args(tmp_path / "run", bad))
    assert rc == 2 and "npgpt train: " in err and "not valid UTF-8" in err
    rc, _, err = run_cli(capsys, *train_args(tmp_path / "run", tmp_path / "missing.txt"))
    assert rc == 2 and "text file not found" in err

    cfg = tmp_path / "run.toml"
    cfg.write_text("n_layer = 1\nlearning_rate = 0.1\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "train", "--config", cfg)
    assert rc == 2 and "unknown settings ['learning_rate']" in err
    rc, _, err = run_cli(capsys, "train", "--config", tmp_path / "nope.toml")
    assert rc == 2 and "npgpt train: " in err and "nope.toml" in err
    cfg.write_text("n_layer = [1\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "train", "--config", cfg)
    assert rc == 2 and "npgpt train: " in err


def test_train_flag_of_the_wrong_type(capsys):
    assert main(["train", "--n-layer", "two"]) == 2
    err = capsys.readouterr().err
    assert err == "npgpt train: argument --n-layer: invalid int value: 'two' (see npgpt train --help)\n"


def test_ctrl_c_during_training_exits_130_and_resumes(tmp_path, data_file, capsys, monkeypatch):
    calls = {"n": 0}
    real = TextDataset.get_batch

    def get_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2 + 4:  # 2 evaluation batches, then the 4th training batch
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TextDataset, "get_batch", get_batch)
    rc, out, err = run_cli(capsys, *train_args(tmp_path / "run", data_file, "--sample-chars", "50"))
    assert rc == 130
    assert "interrupted at step 3" in out and "stopped at step 3" in out
    assert "--- a sample" not in out
    assert (tmp_path / "run" / "checkpoint" / "state.json").is_file()

    monkeypatch.undo()
    rc, out, _ = run_cli(capsys, *train_args(tmp_path / "run", data_file, "--resume"))
    assert rc == 0 and "resumed from" in out and "at step 3" in out and "done at step 10" in out


def test_resume_needs_only_the_out_dir(tmp_path, data_file, trained, capsys, monkeypatch):
    """A run started with flags continues with ``--resume --out-dir X`` alone, exactly, and may be extended."""
    from npgpt.checkpoint import read_checkpoint

    real = TextDataset.get_batch
    calls = {"n": 0}

    def get_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2 + 4:  # 2 evaluation batches, then the 4th training batch
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TextDataset, "get_batch", get_batch)
    assert run_cli(capsys, *train_args(tmp_path / "run", data_file, "--sample-chars", "30"))[0] == 130
    monkeypatch.undo()
    rc, out, err = run_cli(capsys, "train", "--resume", "--out-dir", tmp_path / "run")
    assert rc == 0, err
    assert "resumed from" in out and "at step 3" in out and "done at step 10" in out and "--- a sample" in out
    a, b = read_checkpoint(trained[0]), read_checkpoint(tmp_path / "run" / "checkpoint")
    assert all(np.array_equal(a["model"][k], b["model"][k]) for k in a["model"])  # as if never stopped
    assert a["config"]["model"] == b["config"]["model"]
    assert {**a["config"]["train"], "out_dir": None} == {**b["config"]["train"], "out_dir": None}

    rc, out, err = run_cli(capsys, "train", "--resume", "--out-dir", tmp_path / "run", "--max-steps", 14)
    assert rc == 0 and "done at step 14" in out, err
    ck = read_checkpoint(tmp_path / "run" / "checkpoint")
    assert ck["state"]["step"] == 14 and ck["config"]["train"]["max_steps"] == 14
    assert ck["config"]["model"]["n_embd"] == 16  # the flags of the first run, not the defaults


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--n-layer", "2"], r"--n-layer 2 conflicts with the checkpoint .* which has n_layer=1"),
        (["--no-bias"], r"--no-bias conflicts with the checkpoint .* which has bias=True"),
        (["--dtype", "float64"], r"--dtype float64 conflicts with the checkpoint .* which has dtype='float32'"),
        (["--init-from", "elsewhere"], "give one of them"),
    ],
)
def test_resume_with_a_conflicting_flag_exits_2(trained, capsys, flags, match):
    rc, out, err = run_cli(capsys, "train", "--resume", "--out-dir", trained[0].parent, *flags)
    assert rc == 2 and re.search(r"^npgpt train: .*" + match, err.strip()), err
    assert len(err.strip().splitlines()) == 1


def finetune_args(out, data, checkpoint, *extra):
    return ["train", "--init-from", checkpoint, "--data", data, "--out-dir", out, "--max-steps", "4",
            "--warmup-steps", "1", "--eval-interval", "2", "--eval-batches", "1", "--batch-size", "4",
            "--sample-chars", "0", "--no-progress", *extra]  # fmt: skip


def test_init_from_fine_tunes_a_checkpoint(tmp_path, trained, capsys):
    """The model's shape comes from the checkpoint (1 layer, width 16), not from the defaults (4 x 128)."""
    from npgpt.checkpoint import read_checkpoint

    new = tmp_path / "dogs.txt"
    new.write_text("the dog sat on the log. the cat sat on the dog.\n" * 40, encoding="utf-8")
    rc, out, err = run_cli(capsys, *finetune_args(tmp_path / "ft", new, trained[0]))
    assert rc == 0, err
    assert "initialised from" in out and "done at step 4" in out
    ck = read_checkpoint(tmp_path / "ft" / "checkpoint")
    assert ck["config"]["model"] == read_checkpoint(trained[0])["config"]["model"]
    assert ck["optimizer"]["step"] == 4 and ck["config"]["train"]["data"] == str(new)


@pytest.mark.parametrize(
    "text, flags, match",
    [
        ("the Dog sat on the log.\n" * 60, [], r"another vocabulary .*'D'"),
        ("the dog sat on the log.\n" * 60, ["--n-embd", "32"], r"--n-embd 32 conflicts with --init-from .*n_embd=16"),
        ("the dog sat on the log.\n" * 60, ["--init-from", "nowhere"], "no checkpoint at nowhere"),
    ],
)
def test_init_from_errors_exit_2(tmp_path, trained, capsys, text, flags, match):
    new = tmp_path / "new.txt"
    new.write_text(text, encoding="utf-8")
    rc, out, err = run_cli(capsys, *finetune_args(tmp_path / "ft", new, trained[0], *flags))
    assert rc == 2 and re.search(r"^npgpt train: .*" + match, err.strip()), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ft" / "checkpoint").exists()


def test_ctrl_c_while_sampling_exits_130(trained, capsys, monkeypatch):
    import npgpt.generation as gen_mod

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gen_mod, "sample_next", interrupted)
    rc, out, err = run_cli(capsys, "sample", "--checkpoint", trained[0], "--prompt", "the ")
    assert rc == 130 and out == "the \n"


# ----------------------------------------------------------------------------- other commands
def test_python_m_npgpt_help():
    res = subprocess.run([sys.executable, "-m", "npgpt", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: npgpt")
    for command in ("train", "sample", "gradcheck"):
        assert command in res.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: npgpt" in capsys.readouterr().out


def test_gradcheck_one_op(capsys):
    rc, out, err = run_cli(capsys, "gradcheck", "--op", "add")
    assert rc == 0
    rows = [line for line in out.splitlines() if line.startswith("Add ")]
    assert rows and all("FAIL" not in r for r in rows)
    assert re.search(r"1 ops, \d+ cases, 0 failed", out)


def test_gradcheck_unknown_op_fails(capsys):
    rc, out, _ = run_cli(capsys, "gradcheck", "--op", "nosuchop")
    assert rc == 1 and "0 cases" in out


def test_checkpoint_weights_are_finite(trained):
    from npgpt.checkpoint import read_checkpoint

    ck = read_checkpoint(trained[0])
    assert all(np.isfinite(a).all() for a in ck["model"].values())
    assert ck["config"]["train"]["max_steps"] == 10 and ck["state"]["step"] == 10
