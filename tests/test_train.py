"""``npgpt.train``: exact resume (with dropout too), Ctrl-C, the loss going down, log and plot, config files.

Every run is tiny (1 layer, width 16, context 16, a dozen steps) and writes into ``tmp_path``.
Resume is checked bit for bit: parameters, AdamW moments and step counts, RNG states and the logged
losses of a run stopped halfway and resumed equal those of a run that went straight through.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import npgpt.plots
import npgpt.train as train_mod
from npgpt.checkpoint import read_checkpoint
from npgpt.commands.train import config_from_args
from npgpt.data import DataError, TextDataset
from npgpt.optim import AdamW
from npgpt.train import TrainConfig, train

SENTENCES = [
    "the quick brown fox jumps over the lazy dog.\n",
    "a stitch in time saves nine; so they say.\n",
    "to be, or not to be: that is the question!\n",
]


REAL_PLOT_LOSSES = npgpt.plots.plot_losses


def quiet(*args, **kwargs):
    pass


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Drawing loss.png takes most of a tiny run's time: only test_log_jsonl_and_loss_png draws it."""
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """A small deterministic text (about 3,000 characters, 30-odd distinct ones)."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text("".join(SENTENCES[i] for i in rng.integers(0, len(SENTENCES), 70)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def straight(tmp_path_factory, text_file):
    """``straight(dropout)``: the checkpoint folder of an uninterrupted 12-step run (made once per module)."""
    done = {}

    def get(dropout=0.0):
        if dropout not in done:
            out = tmp_path_factory.mktemp("straight")
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(npgpt.plots, "plot_losses", quiet)
                res = train(tiny(out, text_file, dropout=dropout), log=quiet)
            assert res.step == 12 and not res.interrupted
            done[dropout] = (out / "checkpoint", res)
        return done[dropout]

    return get


def tiny(out_dir, data, **kw):
    """A training config small enough to run a dozen steps in a fraction of a second."""
    base = dict(
        data=str(data),
        out_dir=str(out_dir),
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=16,
        batch_size=4,
        max_steps=12,
        warmup_steps=3,
        lr=3e-3,
        eval_interval=5,
        eval_batches=2,
        sample_chars=0,
        progress=False,
        seed=7,
    )
    base.update(kw)
    return TrainConfig(**base)


def assert_same_checkpoint(a, b):
    """Two checkpoint folders hold bitwise-equal parameters, optimizer state and RNG states."""
    A, B = read_checkpoint(a), read_checkpoint(b)
    assert A["model"].keys() == B["model"].keys()
    for k in A["model"]:
        assert A["model"][k].dtype == B["model"][k].dtype
        assert np.array_equal(A["model"][k], B["model"][k]), f"parameter {k} differs"
    oa, ob = A["optimizer"], B["optimizer"]
    assert oa["state"].keys() == ob["state"].keys() and len(oa["state"]) > 0
    for k in oa["state"]:
        assert np.array_equal(oa["state"][k], ob["state"][k]), f"optimizer state {k} differs"
    assert oa["scalars"] == ob["scalars"] and oa["step"] == ob["step"]
    assert oa["param_groups"] == ob["param_groups"]
    sa, sb = A["state"], B["state"]
    assert sa["step"] == sb["step"]
    assert sa["batch_rng"] == sb["batch_rng"]
    assert sa["dropout_rng"] == sb["dropout_rng"]
    assert without_time(sa["history"]) == without_time(sb["history"])


def without_time(history):
    return [{k: v for k, v in h.items() if k != "time"} for h in history]


# ----------------------------------------------------------------------------- exact resume
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_resume_is_bitwise_exact(tmp_path, text_file, straight, dropout):
    straight_dir, straight_res = straight(dropout)
    first = train(tiny(tmp_path / "b", text_file, dropout=dropout), stop_after=7, log=quiet)
    assert first.step == 7 and read_checkpoint(tmp_path / "b" / "checkpoint")["state"]["step"] == 7
    rest = train(tiny(tmp_path / "b", text_file, dropout=dropout), resume=True, log=quiet)
    assert rest.step == 12
    assert_same_checkpoint(straight_dir, tmp_path / "b" / "checkpoint")
    assert [h["val_loss"] for h in straight_res.history] == [h["val_loss"] for h in rest.history]


def test_resume_restores_the_dropout_rng(tmp_path, text_file, straight, monkeypatch):
    """The dropout test above is not vacuous: dropout changes the run, and so does a lost dropout state."""
    cfg = tiny(tmp_path / "b", text_file, dropout=0.2)
    a = read_checkpoint(straight(0.2)[0])["model"]
    nodrop = read_checkpoint(straight(0.0)[0])["model"]
    assert not all(np.array_equal(a[k], nodrop[k]) for k in a)

    # planted bug: a resume that forgets the dropout generator's state
    resume = train_mod._resume

    def forgetful_resume(cfg, run, checkpoint):
        saved = dict(run.dropout_rng.bit_generator.state)
        resume(cfg, run, checkpoint)
        run.dropout_rng.bit_generator.state = saved

    train(cfg, stop_after=7, log=quiet)
    monkeypatch.setattr(train_mod, "_resume", forgetful_resume)
    train(cfg, resume=True, log=quiet)
    b = read_checkpoint(tmp_path / "b" / "checkpoint")["model"]
    assert not all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_after_the_end_does_nothing(tmp_path, text_file):
    cfg = tiny(tmp_path / "a", text_file, max_steps=6)
    train(cfg, log=quiet)
    before = read_checkpoint(tmp_path / "a" / "checkpoint")
    res = train(cfg, resume=True, log=quiet)
    assert res.step == 6 and not res.interrupted
    after = read_checkpoint(tmp_path / "a" / "checkpoint")
    assert after["state"]["step"] == 6
    assert all(np.array_equal(before["model"][k], after["model"][k]) for k in before["model"])


def test_resume_can_extend_max_steps(tmp_path, text_file):
    train(tiny(tmp_path / "a", text_file, max_steps=6), log=quiet)
    res = train(tiny(tmp_path / "a", text_file, max_steps=10), resume=True, log=quiet)
    assert res.step == 10 and res.history[-1]["step"] == 10


# ----------------------------------------------------------------------------- Ctrl-C
def interrupt_get_batch_on_call(monkeypatch, k):
    """Make the k-th training batch raise KeyboardInterrupt (before it draws from the batch RNG)."""
    calls = {"n": 0}
    original = TextDataset.get_batch

    def get_batch(self, split, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise KeyboardInterrupt
        return original(self, split, *args, **kwargs)

    monkeypatch.setattr(TextDataset, "get_batch", get_batch)
    return calls


@pytest.mark.parametrize("k", [1, 4, 9])
def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path, text_file, straight, monkeypatch, k):
    # evaluation batches are drawn before training starts, so get_batch calls 1..2*eval_batches are those
    n_eval_calls = 2 * 2

    interrupt_get_batch_on_call(monkeypatch, n_eval_calls + k)
    messages = []
    try:
        res = train(tiny(tmp_path / "b", text_file), log=messages.append)
    except KeyboardInterrupt:  # fail this test; do not end the session
        pytest.fail("the KeyboardInterrupt escaped train(): no checkpoint was saved")
    assert res.interrupted and res.step == k - 1
    assert any(f"interrupted at step {k - 1}" in m for m in messages)
    ck = read_checkpoint(tmp_path / "b" / "checkpoint")
    assert ck["state"]["step"] == k - 1
    assert not (tmp_path / "b" / "checkpoint.tmp").exists()

    monkeypatch.undo()
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    res = train(tiny(tmp_path / "b", text_file), resume=True, log=quiet)
    assert res.step == 12 and not res.interrupted
    assert_same_checkpoint(straight()[0], tmp_path / "b" / "checkpoint")


CHILD = "NPGPT_TEST_TRAIN_CHILD"


def run_in_child(request) -> bool:
    """Run the calling test again in a child pytest, alone; True here (the child ran and passed).

    The tests that send a real SIGINT use it: in the child (where it returns False, so the test body
    runs) a broken Ctrl-C handler ends one pytest process and fails one test here, instead of the
    KeyboardInterrupt ending the whole session.
    """
    if os.environ.get(CHILD) == "1":
        return False
    cmd = [sys.executable, "-m", "pytest", request.node.nodeid, "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra"]
    env = {**os.environ, CHILD: "1"}
    proc = subprocess.run(cmd, cwd=request.config.rootpath, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"{request.node.name} failed in its child process:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    )
    assert "1 passed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]
    return True


def sigint_inside_optimizer_step(monkeypatch, at_update, times=1):
    """Send SIGINT to this process from inside AdamW's per-parameter update number ``at_update``."""
    calls = {"n": 0}
    original = AdamW._update

    def update(self, *args):
        calls["n"] += 1
        if at_update <= calls["n"] < at_update + times:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(AdamW, "_update", update)


def test_ctrl_c_inside_an_optimizer_step_finishes_the_step(request, tmp_path, text_file, straight, monkeypatch):
    """A real SIGINT in the middle of opt.step() must not save half-updated parameters."""
    if run_in_child(request):
        return
    n_params = len(read_checkpoint(straight()[0])["model"])
    sigint_inside_optimizer_step(monkeypatch, at_update=7 * n_params + 3)  # during step 8
    handler = signal.getsignal(signal.SIGINT)
    res = train(tiny(tmp_path / "b", text_file), log=quiet)
    assert signal.getsignal(signal.SIGINT) is handler  # the training loop's handler is removed again
    assert res.interrupted and res.step == 8
    monkeypatch.undo()
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    train(tiny(tmp_path / "b", text_file), resume=True, log=quiet)
    assert_same_checkpoint(straight()[0], tmp_path / "b" / "checkpoint")


def test_second_ctrl_c_stops_at_once_without_saving(request, tmp_path, text_file, straight, monkeypatch):
    if run_in_child(request):
        return
    n_params = len(read_checkpoint(straight()[0])["model"])
    sigint_inside_optimizer_step(monkeypatch, at_update=7 * n_params + 3, times=2)
    messages = []
    cfg = tiny(tmp_path / "c", text_file)
    res = train(cfg, log=messages.append)
    assert res.interrupted
    assert any("second Ctrl-C" in m for m in messages)
    # the half-finished step 8 was not saved: the checkpoint is the one written at step 5
    assert read_checkpoint(tmp_path / "c" / "checkpoint")["state"]["step"] == 5
    monkeypatch.undo()
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    assert train(cfg, resume=True, log=quiet).step == 12


# ----------------------------------------------------------------------------- learning, log, plot
def test_loss_decreases_on_the_shipped_corpus(tmp_path):  # 1.5 to 4 s on 2 cores
    """60 steps of a 1-layer, width-32 model on Shakespeare (76 characters).

    Measured (seed 1337): val loss 4.335 at step 0 (uniform guessing: ln 76 = 4.331), 3.21 at step 60;
    other seeds give 3.11 to 3.21. The unigram entropy of the corpus is 3.31 nats, so below 3.4 the
    model has at least learned which characters are common; the bound leaves a margin for BLAS rounding.
    """
    cfg = TrainConfig(
        out_dir=str(tmp_path / "run"),
        n_layer=1,
        n_head=2,
        n_embd=32,
        block_size=16,
        batch_size=16,
        max_steps=60,
        warmup_steps=5,
        lr=1e-2,
        min_lr=1e-3,
        eval_interval=30,
        eval_batches=4,
        sample_chars=0,
        progress=False,
    )
    res = train(cfg, log=quiet)
    h = res.history
    assert [x["step"] for x in h] == [0, 30, 60]
    assert abs(h[0]["val_loss"] - math.log(76)) < 0.1
    assert h[-1]["val_loss"] < 3.4 and h[-1]["train_loss"] < 3.4
    assert h[-1]["val_loss"] < h[0]["val_loss"] - 0.9


def test_log_jsonl_and_loss_png(tmp_path, text_file, monkeypatch):
    monkeypatch.setattr(npgpt.plots, "plot_losses", REAL_PLOT_LOSSES)
    res = train(tiny(tmp_path / "a", text_file), log=quiet)
    lines = (tmp_path / "a" / "log.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["step"] for r in rows] == [0, 5, 10, 12]
    for r in rows:
        assert set(r) == {"step", "train_loss", "val_loss", "lr", "time"}
        assert math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) and r["lr"] > 0
    assert rows == res.history
    png = (tmp_path / "a" / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["checkpoint", "log.jsonl", "loss.png"]


def test_progress_bar_and_messages(tmp_path, text_file, capsys):
    messages = []
    train(tiny(tmp_path / "a", text_file, progress=True), log=messages.append)
    out, err = capsys.readouterr()
    assert "training" in err and "12/12" in err  # the bar, on stderr
    assert "step 10: train loss" in out  # eval lines go through bar.write, not log
    assert "vocab_size=" in messages[0] and "parameters" in messages[0]


# ----------------------------------------------------------------------------- config files
def test_config_from_toml_and_json(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('n_layer = 2\nlr = 0.002\ndata = "my.txt"\nbias = false\n', encoding="utf-8")
    cfg = TrainConfig.from_file(toml)
    assert (cfg.n_layer, cfg.lr, cfg.data, cfg.bias) == (2, 0.002, "my.txt", False)
    assert cfg.n_head == TrainConfig().n_head

    js = tmp_path / "run.json"
    js.write_text(json.dumps({"n_embd": 32, "dropout": 0.1, "progress": False}), encoding="utf-8")
    cfg = TrainConfig.from_file(js)
    assert (cfg.n_embd, cfg.dropout, cfg.progress) == (32, 0.1, False)


@pytest.mark.parametrize("suffix, text", [(".toml", "n_layers = 2\n"), (".json", '{"learning_rate": 0.1}')])
def test_config_file_unknown_key(tmp_path, suffix, text):
    path = tmp_path / f"run{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown settings \['(n_layers|learning_rate)'\]"):
        TrainConfig.from_file(path)


def test_cli_flags_override_the_config_file(tmp_path):
    from npgpt.cli import build_parser

    path = tmp_path / "run.toml"
    path.write_text("n_layer = 2\nn_embd = 48\nprogress = true\n", encoding="utf-8")
    args = build_parser().parse_args(
        ["train", "--config", str(path), "--n-embd", "64", "--no-progress", "--lr", "0.01"]
    )
    cfg = config_from_args(args)
    assert (cfg.n_layer, cfg.n_embd, cfg.progress, cfg.lr) == (2, 64, False, 0.01)
    assert cfg.batch_size == TrainConfig().batch_size


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("eval_interval", 0, "eval_interval must be an integer >= 1"),
        ("eval_batches", 0, "eval_batches must be an integer in \\[1, 10000\\]"),
        ("batch_size", -2, "batch_size must be an integer >= 1"),
        ("dtype", "float16", "dtype must be float32 or float64"),
        ("grad_clip", -1.0, "grad_clip must be a finite number >= 0"),
        ("grad_clip", float("nan"), "grad_clip must be a finite number >= 0"),  # not "off"
        ("max_steps", 0, "max_steps must be an integer >= 1"),
        ("lr", float("inf"), "lr must be a finite number > 0"),
        ("sample_chars", -5, "sample_chars must be an integer >= 0"),
    ],
)
def test_bad_settings_raise_before_training(tmp_path, text_file, field, value, match):
    cfg = tiny(tmp_path / "a", text_file, **{field: value})
    with pytest.raises(ValueError, match=match):
        train(cfg, log=quiet)
    assert not (tmp_path / "a").exists()


# ----------------------------------------------------------------------------- data errors
def test_data_errors_are_clear(tmp_path):
    def run(path):
        with pytest.raises(DataError) as e:
            train(tiny(tmp_path / "out", path), log=quiet)
        return str(e.value)

    assert "not found" in run(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in run(empty)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait ".encode("latin-1") * 50)
    msg = run(latin1)
    assert "not valid UTF-8" in msg and "0xe9" in msg and "byte offset 3" in msg
    short = tmp_path / "short.txt"
    short.write_text("hello world, this is short", encoding="utf-8")  # train split 23 chars, val 3
    msg = run(short)
    assert "block_size=16" in msg and "needs at least 17" in msg
    assert "directory" in run(tmp_path)


def test_a_new_run_refuses_a_folder_that_holds_a_checkpoint(tmp_path):
    """Nothing is lost by accident: a second fresh run needs --resume, another folder or --overwrite."""
    from npgpt.checkpoint import CheckpointError
    from npgpt.train import TrainConfig, train

    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question\n" * 40)
    cfg = TrainConfig(
        data=str(text),
        out_dir=str(tmp_path / "run"),
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=8,
        batch_size=4,
        max_steps=6,
        warmup_steps=2,
        eval_interval=3,
        eval_batches=2,
        progress=False,
        sample_chars=0,
    )
    train(cfg, log=lambda *a: None)
    with pytest.raises(CheckpointError, match="--resume"):
        train(cfg, log=lambda *a: None)
    res = train(cfg, log=lambda *a: None, overwrite=True)
    assert res.step == 6
    steps = [line for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(steps) == 3  # steps 0, 3, 6 of the new run only


# ----------------------------------------------------------------------------- fine-tuning (init_from)
@pytest.fixture(scope="module")
def other_text(tmp_path_factory):
    """Text in the vocabulary of ``text_file`` but another order of its sentences (new data to fine-tune on)."""
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("data") / "other.txt"
    path.write_text("".join(SENTENCES[i] for i in rng.integers(0, len(SENTENCES), 70)), encoding="utf-8")
    return path


def test_init_from_starts_from_the_weights_and_tokenizer(tmp_path, text_file, straight):
    """Fine-tuning on the pretraining text itself: its step-0 losses are the trained model's last ones."""
    ck, res = straight()
    ft = train(tiny(tmp_path / "ft", text_file, init_from=str(ck)), stop_after=3, log=quiet)
    assert ft.history[0]["step"] == 0 and ft.history[0]["val_loss"] == res.history[-1]["val_loss"]
    assert ft.history[0]["train_loss"] == res.history[-1]["train_loss"]
    saved = read_checkpoint(tmp_path / "ft" / "checkpoint")
    assert saved["state"]["step"] == 3 and saved["optimizer"]["step"] == 3  # a fresh optimizer: 3 steps, not 15
    assert saved["tokenizer_json"] == read_checkpoint(ck)["tokenizer_json"]
    assert saved["config"]["train"]["init_from"] == str(ck)


def test_fine_tuning_beats_training_from_scratch(tmp_path, other_text, straight):
    """Same data, same steps, same seed: starting from the trained weights ends at a lower val loss."""
    ck, _ = straight()
    scratch = train(tiny(tmp_path / "scratch", other_text), log=quiet)
    ft = train(tiny(tmp_path / "ft", other_text, init_from=str(ck)), log=quiet)
    assert ft.step == scratch.step == 12
    # measured (seed 7): val loss 3.30 -> 3.12 fine-tuned, 3.51 -> 3.28 from scratch
    assert ft.history[0]["val_loss"] < scratch.history[0]["val_loss"] - 0.15  # a head start ...
    assert ft.val_loss < scratch.val_loss - 0.1  # ... kept to the end


def test_init_from_text_outside_the_vocabulary(tmp_path, straight):
    from npgpt.checkpoint import CheckpointError

    bad = tmp_path / "bad.txt"
    bad.write_text("the quick brown fox jumps over the LAZY dog.\n" * 60, encoding="utf-8")
    with pytest.raises(
        CheckpointError, match=r"another vocabulary .*cannot encode 4 character\(s\).*'A', 'L', 'Y', 'Z'"
    ):
        train(tiny(tmp_path / "ft", bad, init_from=str(straight()[0])), log=quiet)


def test_init_from_another_model_shape(tmp_path, text_file, straight):
    from npgpt.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match=r"cannot start from .*n_embd=16.* with n_embd=32"):
        train(tiny(tmp_path / "ft", text_file, init_from=str(straight()[0]), n_embd=32), log=quiet)


def test_a_new_run_makes_its_vocabulary_from_the_training_part(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abcab " * 100 + "xyz", encoding="utf-8")  # x, y, z only in the validation part
    with pytest.raises(DataError, match=r"first 90% .*'x', 'y', 'z'"):
        train(tiny(tmp_path / "out", text), log=quiet)


def test_importing_and_training_leave_the_process_alone(tmp_path, text_file):
    """Only the commands tune glibc's malloc; importing npgpt (every command too) or calling train() does not."""
    code = (
        "import npgpt, npgpt.cli, npgpt.memory, npgpt.train as t; npgpt.cli.build_parser(); "
        f"t.train(t.TrainConfig(data={str(text_file)!r}, out_dir={str(tmp_path / 'a')!r}, n_layer=1, n_head=2, "
        "n_embd=16, block_size=16, batch_size=4, max_steps=4, warmup_steps=1, eval_interval=2, eval_batches=1, "
        "sample_chars=0, progress=False), log=lambda *a: None); print(npgpt.memory._tuned)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
