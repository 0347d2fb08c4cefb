"""A checkpoint is trusted only whole: the manifest and its checksums are required, every malformed
``state.json`` or ``config.json`` is a one-line ``CheckpointError``, and a checkpoint of the wrong kind
(a reward model where a language model is needed, and the reverse) says which it is and which is needed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from npgpt.chat.model import RewardModel, load_policy, load_reward_model, save
from npgpt.checkpoint import LANGUAGE_MODEL, REWARD_MODEL, CheckpointError, read_checkpoint, save_checkpoint
from npgpt.data import CharTokenizer
from npgpt.nn import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8)
TOK = CharTokenizer("abcdefg")


def lm(path):
    save_checkpoint(path, GPT(CONFIG, rng=0), {"model": CONFIG.to_dict(), "train": {"dtype": "float32"}}, TOK)
    return path


def reward_model(path):
    save(path, RewardModel(CONFIG), TOK, "reward", {})
    return path


def edit_json(path, name, change, rehash=True):
    """Rewrite ``path/name`` as ``change(obj)``; with ``rehash`` the manifest follows (a deliberate edit)."""
    f = path / name
    f.write_text(json.dumps(change(json.loads(f.read_text()))))
    if rehash and name != "state.json":
        data = f.read_bytes()

        def fix(state):
            state["manifest"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            return state

        edit_json(path, "state.json", fix)


def flip_last_byte(f):
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x01
    f.write_bytes(bytes(data))


def one_line_error(path, match, kind=None):
    with pytest.raises(CheckpointError, match=match) as e:
        read_checkpoint(path, kind=kind)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- the manifest is required
def test_deleting_the_manifest_does_not_turn_the_checksums_off(tmp_path):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "state.json", lambda s: {k: v for k, v in s.items() if k != "manifest"})
    flip_last_byte(ck / "model.safetensors")  # a flipped byte in the weights must never load
    one_line_error(ck, "no manifest")


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json"])
def test_a_file_left_out_of_the_manifest_is_refused(tmp_path, name):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "state.json", lambda s: {**s, "manifest": {k: v for k, v in s["manifest"].items() if k != name}})
    one_line_error(ck, f"does not list {name}")


def test_an_optimizer_left_out_of_the_manifest_is_refused(tmp_path):
    from npgpt.optim import AdamW

    model = GPT(CONFIG, rng=0)
    save_checkpoint(tmp_path / "ck", model, {"model": CONFIG.to_dict()}, TOK, AdamW(model.parameters()))
    m = lambda s: {**s, "manifest": {k: v for k, v in s["manifest"].items() if k != "optimizer.safetensors"}}  # noqa: E731
    edit_json(tmp_path / "ck", "state.json", m)
    one_line_error(tmp_path / "ck", "does not list optimizer.safetensors")


# ----------------------------------------------------------------------------- malformed JSON
@pytest.mark.parametrize("text", ["[]", "3", '"state"', "null", "[" * 100_000 + "]" * 100_000, "\xff"])
def test_a_state_json_that_is_not_an_object_is_one_line(tmp_path, text):
    ck = lm(tmp_path / "ck")
    (ck / "state.json").write_text(text, encoding="latin-1")
    one_line_error(ck, "corrupt: state.json")


@pytest.mark.parametrize(
    "entry",
    [{}, {"bytes": 10}, {"sha256": "00"}, {"bytes": "10", "sha256": "00"}, {"bytes": 10, "sha256": 5}, [], "x", None],
    ids=repr,
)
def test_a_manifest_entry_without_its_fields_is_one_line(tmp_path, entry):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "state.json", lambda s: {**s, "manifest": {**s["manifest"], "model.safetensors": entry}})
    one_line_error(ck, "manifest entry 'model.safetensors' is not a file name with its bytes and sha256")


@pytest.mark.parametrize("manifest", [[], "x", 3, None])
def test_a_manifest_that_is_not_an_object_is_one_line(tmp_path, manifest):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "state.json", lambda s: {**s, "manifest": manifest})
    one_line_error(ck, "no manifest")


def test_a_manifest_entry_outside_the_folder_is_refused(tmp_path):
    ck = lm(tmp_path / "ck")
    (tmp_path / "elsewhere").write_text("x")
    entry = {"bytes": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    edit_json(ck, "state.json", lambda s: {**s, "manifest": {**s["manifest"], "../elsewhere": entry}})
    one_line_error(ck, "not a file name")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c: [c], "config.json holds a list"),
        (lambda c: {**c, "model": 3}, 'no "model" settings'),
        (lambda c: {**c, "model": {**c["model"], "n_layr": 2}}, "model settings: .*unknown keys"),
        (lambda c: {**c, "train": {"dtype": "float8"}}, "train.dtype is 'float8'"),
        (lambda c: {**c, "train": []}, "train.dtype is None"),
        (lambda c: {**c, "kind": "cat model"}, "kind 'cat model'"),
    ],
)
def test_a_malformed_config_json_is_one_line_when_loaded(tmp_path, change, match):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "config.json", change)
    with pytest.raises(CheckpointError, match=match) as e:
        load_policy(ck)
    assert "\n" not in str(e.value)


def test_weights_that_do_not_fit_their_config_are_one_line(tmp_path):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "config.json", lambda c: {**c, "model": {**c["model"], "n_layer": 2}})
    with pytest.raises(CheckpointError, match=r"do not fit the model of its config.json \(missing keys \(12\)\)") as e:
        load_policy(ck)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- kinds
def test_each_kind_is_saved_and_read(tmp_path):
    assert read_checkpoint(lm(tmp_path / "lm"))["kind"] == LANGUAGE_MODEL
    assert read_checkpoint(reward_model(tmp_path / "rm"))["kind"] == REWARD_MODEL
    assert isinstance(load_reward_model(tmp_path / "rm")[0], RewardModel)


def test_a_reward_model_where_a_language_model_is_needed(tmp_path):
    rm = reward_model(tmp_path / "rm")
    one_line_error(rm, "is a reward model checkpoint, but a language model is needed", kind=LANGUAGE_MODEL)
    with pytest.raises(CheckpointError, match="is a reward model checkpoint, but a language model is needed"):
        load_policy(rm)


def test_a_language_model_where_a_reward_model_is_needed(tmp_path):
    with pytest.raises(CheckpointError, match="is a language model checkpoint, but a reward model is needed"):
        load_reward_model(lm(tmp_path / "lm"))


@pytest.mark.parametrize("make, kind", [(lm, LANGUAGE_MODEL), (reward_model, REWARD_MODEL)])
def test_a_checkpoint_from_before_the_kind_field_gets_its_kind_from_its_weights(tmp_path, make, kind):
    ck = make(tmp_path / "ck")
    edit_json(ck, "config.json", lambda c: {k: v for k, v in c.items() if k not in ("kind", "reward_head")})
    assert read_checkpoint(ck)["kind"] == kind
    other = REWARD_MODEL if kind == LANGUAGE_MODEL else LANGUAGE_MODEL
    one_line_error(ck, f"is a {kind} checkpoint, but a {other} is needed", kind=other)


def npgpt(*argv):
    return subprocess.run([sys.executable, "-m", "npgpt", *argv], capture_output=True, text=True, timeout=120)


def test_npgpt_sample_and_train_given_a_reward_model_say_so_in_one_line(tmp_path):
    rm = reward_model(tmp_path / "rm")
    (tmp_path / "t.txt").write_text("abcdefg" * 50)
    for argv in (
        ["sample", "--checkpoint", str(rm), "--max-new-tokens", "3"],
        ["train", "--init-from", str(rm), "--data", str(tmp_path / "t.txt"), "--out-dir", str(tmp_path / "o")],
    ):
        res = npgpt(*argv)
        assert res.returncode == 2 and res.stdout == "", (argv, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "is a reward model checkpoint, but a language model is needed" in lines[0], lines


def test_npgpt_sample_refuses_a_flipped_byte_without_a_manifest(tmp_path):
    ck = lm(tmp_path / "ck")
    edit_json(ck, "state.json", lambda s: {k: v for k, v in s.items() if k != "manifest"})
    flip_last_byte(ck / "model.safetensors")
    res = npgpt("sample", "--checkpoint", str(ck), "--max-new-tokens", "3")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "no manifest" in res.stderr
