"""Checkpoints (``npgpt.checkpoint``): safetensors + JSON only, atomic writes, verified reads, clear errors.

A crash is simulated by making ``os.rename`` (or an array write) fail part way through a save: the
folder on disk must still read as a whole checkpoint, the old one or the new one. Corruption (one
flipped byte), missing files, a model of another shape and a text with another vocabulary must each
give a ``CheckpointError`` that says what is wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import npgpt
import npgpt.checkpoint as ckpt
import npgpt.plots
from npgpt.checkpoint import CheckpointError, read_checkpoint, resolve, restore_rng, rng_state, save_checkpoint
from npgpt.data import CharTokenizer
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW
from npgpt.train import TrainConfig, train

CONFIG = GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8)


def quiet(*args, **kwargs):
    pass


def make_parts(seed=0, steps=2):
    """A model, an AdamW with some state (after ``steps`` updates) and a tokenizer."""
    model = GPT(CONFIG, rng=seed)
    opt = AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.integers(0, 7, (2, 8))
        _, loss = model(idx, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt, CharTokenizer("abcdefg")


def save(path, seed=0, step=1, steps=2):
    model, opt, tok = make_parts(seed, steps)
    save_checkpoint(path, model, {"model": CONFIG.to_dict()}, tok, opt, {"step": step})
    return model, opt


def test_round_trip(tmp_path):
    model, opt = save(tmp_path / "ck", step=5)
    ck = read_checkpoint(tmp_path / "ck")
    assert ck["path"] == tmp_path / "ck"
    assert ck["state"]["step"] == 5 and ck["config"] == {"model": CONFIG.to_dict(), "kind": "language model"}
    assert ck["kind"] == ckpt.LANGUAGE_MODEL
    sd = model.state_dict()
    assert ck["model"].keys() == sd.keys()
    for k in sd:
        assert ck["model"][k].dtype == sd[k].dtype and np.array_equal(ck["model"][k], sd[k])
    osd = opt.state_dict()
    assert ck["optimizer"]["state"].keys() == osd["state"].keys()
    assert all(np.array_equal(ck["optimizer"]["state"][k], osd["state"][k]) for k in osd["state"])
    assert ck["optimizer"]["scalars"] == osd["scalars"] and ck["optimizer"]["step"] == osd["step"] == 2
    assert CharTokenizer.from_json(ck["tokenizer_json"]) == CharTokenizer("abcdefg")

    # and it loads back into a fresh model and optimizer
    model2 = GPT(CONFIG, rng=1)
    model2.load_state_dict(ck["model"])
    opt2 = AdamW(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(ck["optimizer"])
    assert all(np.array_equal(a, b) for a, b in zip(model2.state_dict().values(), sd.values()))


def test_folder_holds_only_safetensors_and_json(tmp_path):
    save(tmp_path / "ck")
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["config.json", "model.safetensors", "optimizer.safetensors", "state.json", "tokenizer.json"]
    state = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert set(state["manifest"]) == set(names) - {"state.json"}
    assert state["format_version"] == ckpt.FORMAT_VERSION


def test_without_optimizer_or_tokenizer(tmp_path):
    model = GPT(CONFIG, rng=0)
    save_checkpoint(tmp_path / "ck", model, {"model": CONFIG.to_dict()})
    ck = read_checkpoint(tmp_path / "ck")
    assert ck["optimizer"] is None and ck["tokenizer_json"] is None
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors", "state.json"]


def test_optimizer_state_before_any_step(tmp_path):
    """A Ctrl-C before the first step saves an AdamW with no moments yet."""
    save(tmp_path / "ck", steps=0)
    ck = read_checkpoint(tmp_path / "ck")
    assert ck["optimizer"]["state"] == {}
    model, opt, _ = make_parts(steps=0)
    opt.load_state_dict(ck["optimizer"])


# ----------------------------------------------------------------------------- atomic writes
def test_overwrite_leaves_no_tmp_or_old(tmp_path):
    save(tmp_path / "ck", step=1)
    save(tmp_path / "ck", seed=1, step=2)
    assert read_checkpoint(tmp_path / "ck")["state"]["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_leftover_tmp_from_a_crash_is_replaced(tmp_path):
    (tmp_path / "ck.tmp").mkdir()
    (tmp_path / "ck.tmp" / "model.safetensors").write_bytes(b"half a file")
    save(tmp_path / "ck")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    read_checkpoint(tmp_path / "ck")


def fail_rename_on_call(monkeypatch, n):
    real_rename = ckpt.os.rename
    calls = []

    def rename(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == n:
            raise OSError("simulated crash")
        return real_rename(src, dst)

    monkeypatch.setattr(ckpt.os, "rename", rename)
    return calls


def test_crash_between_the_renames_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    old_model, _ = save(tmp_path / "ck", seed=0, step=1)
    calls = fail_rename_on_call(monkeypatch, 2)  # ck -> ck.old done, ck.tmp -> ck not: the machine "dies"
    with pytest.raises(OSError, match="simulated crash"):
        save(tmp_path / "ck", seed=1, step=2)
    monkeypatch.undo()
    assert calls == [("ck", "ck.old"), ("ck.tmp", "ck")]
    assert not (tmp_path / "ck").exists() and (tmp_path / "ck.old").is_dir()

    assert resolve(tmp_path / "ck") == tmp_path / "ck.old"
    ck = read_checkpoint(tmp_path / "ck")  # falls back to the old one, complete and verified
    assert ck["state"]["step"] == 1
    assert all(np.array_equal(ck["model"][k], v) for k, v in old_model.state_dict().items())

    # the next save cleans up
    save(tmp_path / "ck", seed=2, step=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert read_checkpoint(tmp_path / "ck")["state"]["step"] == 3


def test_a_second_crash_after_the_first_still_leaves_a_checkpoint(tmp_path, monkeypatch):
    """After a crash between the renames only ck.old is whole: the next save must not delete it first."""
    save(tmp_path / "ck", step=1)
    fail_rename_on_call(monkeypatch, 2)
    with pytest.raises(OSError):
        save(tmp_path / "ck", seed=1, step=2)
    monkeypatch.undo()
    calls = fail_rename_on_call(monkeypatch, 1)  # ck is gone, so the first rename is ck.tmp -> ck
    with pytest.raises(OSError):
        save(tmp_path / "ck", seed=2, step=3)
    monkeypatch.undo()
    assert calls == [("ck.tmp", "ck")]
    assert read_checkpoint(tmp_path / "ck")["state"]["step"] == 1


def test_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    save(tmp_path / "ck", step=1)
    real = ckpt._save_arrays
    calls = []

    def save_arrays(path, arrays):
        calls.append(path)
        if len(calls) == 2:  # model written, optimizer not
            raise OSError("disk full")
        return real(path, arrays)

    monkeypatch.setattr(ckpt, "_save_arrays", save_arrays)
    with pytest.raises(OSError, match="disk full"):
        save(tmp_path / "ck", seed=1, step=2)
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "ck")["state"]["step"] == 1


def test_training_never_leaves_a_tmp_folder(tmp_path, monkeypatch):
    """Every checkpoint a run writes goes through ck.tmp and is renamed into place."""
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    seen = []
    real = ckpt.save_checkpoint

    def spy(path, *args, **kwargs):
        out = real(path, *args, **kwargs)
        seen.append(sorted(p.name for p in Path(path).parent.iterdir()))
        return out

    monkeypatch.setattr(ckpt, "save_checkpoint", spy)
    monkeypatch.setattr("npgpt.train.save_checkpoint", spy)
    text = tmp_path / "t.txt"
    text.write_text("abcdefghij klmnop qrstuv wxyz\n" * 20, encoding="utf-8")
    train(tiny_cfg(tmp_path / "run", text), log=quiet)
    assert len(seen) == 3  # steps 3, 6 and the last, 8
    assert all("checkpoint.tmp" not in names and "checkpoint.old" not in names for names in seen)


# ----------------------------------------------------------------------------- no pickle, anywhere
PICKLE_PATTERNS = [
    r"^\s*import\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b",
    r"^\s*from\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b\s+import",
    r"\bpickle\.(loads?|dumps?|Unpickler|Pickler)\b",
    r"\btorch\.load\s*\(",
    r"allow_pickle\s*=\s*True",
    r"\b(np|numpy)\.load\s*\(",
]


def test_no_pickle_in_the_package():
    root = Path(npgpt.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 20
    hits = []
    for f in files:
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(p, line) for p in PICKLE_PATTERNS):
                hits.append(f"{f.relative_to(root)}:{i}: {line.strip()}")
    assert hits == [], "pickle-based loading found:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "line",
    [
        "import pickle",
        "x = torch.load(path)",
        "np.load(f, allow_pickle=True)",
        "from pickle import loads",
        "    state = pickle.loads(b)",
    ],
)
def test_the_pickle_grep_would_catch(line):
    assert any(re.search(p, line) for p in PICKLE_PATTERNS)


# ----------------------------------------------------------------------------- damaged checkpoints
def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "config.json", "tokenizer.json"])
def test_a_flipped_byte_is_caught_by_the_checksum(tmp_path, name):
    save(tmp_path / "ck")
    f = tmp_path / "ck" / name
    # safetensors: the arrays are at the end; JSON: a digit, '8' -> '9', so the file still parses
    offset = f.stat().st_size - 3 if name.endswith(".safetensors") else re.search(rb"\d", f.read_bytes()).start()
    flip_byte(f, offset)
    with pytest.raises(CheckpointError, match=rf"corrupt: {re.escape(name)} does not match its recorded checksum"):
        read_checkpoint(tmp_path / "ck")


def test_a_truncated_file_is_caught(tmp_path):
    save(tmp_path / "ck")
    f = tmp_path / "ck" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="checksum"):
        read_checkpoint(tmp_path / "ck")


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "tokenizer.json"])
def test_missing_file(tmp_path, name):
    save(tmp_path / "ck")
    (tmp_path / "ck" / name).unlink()
    with pytest.raises(CheckpointError, match=rf"incomplete: {re.escape(name)} is missing"):
        read_checkpoint(tmp_path / "ck")


def test_missing_or_unreadable_state(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        read_checkpoint(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        read_checkpoint(tmp_path / "empty")
    save(tmp_path / "ck")
    (tmp_path / "ck" / "state.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(tmp_path / "ck")


def test_unknown_format_version(tmp_path):
    save(tmp_path / "ck")
    p = tmp_path / "ck" / "state.json"
    state = json.loads(p.read_text())
    state["format_version"] = 99
    p.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="format 99"):
        read_checkpoint(tmp_path / "ck")


# ----------------------------------------------------------------------------- resuming into another run
def tiny_cfg(out, data, **kw):
    base = {
        "data": str(data),
        "out_dir": str(out),
        "n_layer": 1,
        "n_head": 2,
        "n_embd": 16,
        "block_size": 8,
        "batch_size": 2,
        "max_steps": 8,
        "warmup_steps": 2,
        "eval_interval": 3,
        "eval_batches": 1,
        "sample_chars": 0,
        "progress": False,
    }
    return TrainConfig(**{**base, **kw})


def test_resume_with_another_model_config_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    text = tmp_path / "t.txt"
    text.write_text("abcdefghij klmnop qrstuv wxyz\n" * 20, encoding="utf-8")
    train(tiny_cfg(tmp_path / "run", text, max_steps=4), log=quiet)
    with pytest.raises(CheckpointError, match=r"model settings .*'n_embd': 16.*differ from this run's .*'n_embd': 32"):
        train(tiny_cfg(tmp_path / "run", text, n_embd=32), resume=True, log=quiet)


def test_resume_on_another_vocabulary_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(npgpt.plots, "plot_losses", quiet)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("abcdefghij klmnop qrstuv wxyz\n" * 20, encoding="utf-8")
    b.write_text("ABCDEFGHIJ KLMNOP QRSTUV WXYZ\n" * 20, encoding="utf-8")  # same size, other characters
    train(tiny_cfg(tmp_path / "run", a, max_steps=4), log=quiet)
    with pytest.raises(CheckpointError, match="another vocabulary"):
        train(tiny_cfg(tmp_path / "run", b), resume=True, log=quiet)


def test_resume_without_a_checkpoint(tmp_path, monkeypatch):
    text = tmp_path / "t.txt"
    text.write_text("abcdefghij klmnop qrstuv wxyz\n" * 20, encoding="utf-8")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train(tiny_cfg(tmp_path / "run", text), resume=True, log=quiet)


# ----------------------------------------------------------------------------- RNG states
def test_rng_state_round_trips_through_json():
    rng = np.random.default_rng(12345)
    rng.random(17)  # move it off the seed
    state = json.loads(json.dumps(rng_state(rng)))  # PCG64's 128-bit integers survive JSON
    assert state["bit_generator"] == "PCG64" and state["state"]["state"] > 2**64
    restored = restore_rng(state)
    assert np.array_equal(restored.random(50), rng.random(50))
    assert np.array_equal(restored.integers(0, 1000, 20), rng.integers(0, 1000, 20))


def test_rng_states_in_a_checkpoint(tmp_path):
    model, opt, tok = make_parts()
    batch, drop = np.random.default_rng(1), np.random.default_rng(2)
    batch.random(3)
    drop.random(5)
    save_checkpoint(
        tmp_path / "ck",
        model,
        {"model": CONFIG.to_dict()},
        tok,
        opt,
        {"step": 3, "batch_rng": rng_state(batch), "dropout_rng": rng_state(drop)},
    )
    st = read_checkpoint(tmp_path / "ck")["state"]
    assert np.array_equal(restore_rng(st["batch_rng"]).random(10), batch.random(10))
    g = np.random.default_rng(99)
    g.bit_generator.state = st["dropout_rng"]  # how training restores the generator the model shares
    assert np.array_equal(g.random(10), drop.random(10))
