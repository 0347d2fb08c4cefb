"""Checkpoints: a folder of safetensors (arrays) and JSON (everything else). Nothing is pickled.

Layout of ``DIR``::

    model.safetensors       the model's state_dict (float arrays)
    optimizer.safetensors   optimizer state arrays (moments), if an optimizer was saved
    config.json             {"model": GPTConfig fields, "train": training settings}
    tokenizer.json          the tokenizer's vocabulary
    state.json              step, optimizer hyperparameters, RNG states, and a manifest of the
                            files above with their sizes and SHA-256, checked on load

The manifest is required and must name every file the loader reads: a state.json without it, or
with an entry removed, is refused (else deleting it would turn the checksums off). config.json
says the checkpoint's ``kind``: a language model (``npgpt train``, ``sft``, ``rl``, ``dpo``) or a
reward model (``npgpt reward``); ``read_checkpoint(path, kind=...)`` refuses the other kind in one
line. Checkpoints written before the field existed get their kind from their weights' names (a
reward model's are ``gpt.*`` and ``head.*``), which the manifest's checksums cover.

Writing is atomic: everything goes into ``DIR.tmp`` first, then the folders are swapped by
renames, so a crash leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .backend import to_device
from .nn import GPTConfig

FORMAT_VERSION = 1
LANGUAGE_MODEL, REWARD_MODEL = "language model", "reward model"
KINDS = (LANGUAGE_MODEL, REWARD_MODEL)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match what it is loaded into."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def _save_arrays(path: Path, arrays: dict) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(to_device(v, "cpu")) for k, v in arrays.items()}, str(path))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path, model, config: dict, tokenizer=None, optimizer=None, state: dict | None = None, kind=LANGUAGE_MODEL
) -> Path:
    """Write a checkpoint folder atomically; returns its path.

    ``config`` is JSON-able ({"model": ..., "train": ...}); ``state`` holds step, RNG states and
    any other JSON-able progress; ``optimizer`` must offer ``state_dict()`` with an array part;
    ``kind`` (LANGUAGE_MODEL or REWARD_MODEL) goes into config.json.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    config = {**config, "kind": kind}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    _save_arrays(tmp / "model.safetensors", model.state_dict())
    _write_json(tmp / "config.json", config)
    if tokenizer is not None:
        (tmp / "tokenizer.json").write_text(tokenizer.to_json(), encoding="utf-8")
    state = dict(state or {})
    if optimizer is not None:
        sd = optimizer.state_dict()
        _save_arrays(tmp / "optimizer.safetensors", sd["state"])
        state["optimizer"] = {k: v for k, v in sd.items() if k != "state"}
    state["format_version"] = FORMAT_VERSION
    state["manifest"] = {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir()) if p.is_file()
    }
    _write_json(tmp / "state.json", state)
    for p in tmp.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(tmp)
    old = path.with_name(path.name + ".old")
    if path.exists():
        if old.exists():  # a stale leftover: the checkpoint at ``path`` is whole
            shutil.rmtree(old)
        os.rename(path, old)
    # (without ``path``, a crash between the renames left ``old`` as the only whole checkpoint: keep it
    # until the new one is in place)
    os.rename(tmp, path)
    _fsync_dir(path.parent)
    if old.exists():
        shutil.rmtree(old)
    return path


def resolve(path) -> Path:
    """The checkpoint folder to read: ``path``, or ``path.old`` if a crash hit between renames."""
    path = Path(path)
    if (path / "state.json").exists():
        return path
    old = path.with_name(path.name + ".old")
    if (old / "state.json").exists():
        return old
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    raise CheckpointError(f"{path} is not a checkpoint folder (state.json is missing)")


def read_checkpoint(path, kind=None) -> dict:
    """Read and verify a checkpoint folder; returns a dict of its parts (arrays on the CPU).

    Keys: ``config``, ``state``, ``model`` (name -> array), ``optimizer`` (the state dict, or None),
    ``tokenizer_json`` (str or None), ``path``, ``kind``. With ``kind`` (LANGUAGE_MODEL or
    REWARD_MODEL) a checkpoint of the other kind is a CheckpointError that names both. Every
    problem (missing, truncated, altered, malformed) is a CheckpointError of one line.
    """
    from safetensors.numpy import load_file

    path = resolve(path)
    state = _read_json_object(path, "state.json")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format {state.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    _verify_manifest(path, state)
    config = _read_json_object(path, "config.json")
    if not isinstance(config.get("model"), dict):
        raise CheckpointError(f'checkpoint {path} is corrupt: config.json has no "model" settings object')
    if "optimizer" in state and not isinstance(state["optimizer"], dict):
        raise CheckpointError(f'checkpoint {path} is corrupt: state.json\'s "optimizer" is not an object')
    try:
        model = load_file(str(path / "model.safetensors"))
        opt = None
        if "optimizer" in state:
            opt = dict(state["optimizer"], state=load_file(str(path / "optimizer.safetensors")))
    except Exception as e:  # safetensors raises several kinds for damaged files
        raise CheckpointError(f"checkpoint {path} is corrupt: {_one_line(e)}") from None
    tok = path / "tokenizer.json"
    ck = {
        "path": path,
        "config": config,
        "state": state,
        "model": model,
        "optimizer": opt,
        "tokenizer_json": tok.read_text(encoding="utf-8") if tok.exists() else None,
    }
    ck["kind"] = checkpoint_kind(ck)
    if kind is not None and ck["kind"] != kind:
        raise CheckpointError(f"{path} is a {ck['kind']} checkpoint, but a {kind} is needed here")
    return ck


def checkpoint_kind(ck) -> str:
    """LANGUAGE_MODEL or REWARD_MODEL: config.json's ``kind``, or, in a checkpoint written before
    that field, what its weights' names say (a reward model holds ``gpt.*`` and ``head.*``)."""
    kind = ck["config"].get("kind")
    if kind is None:
        legacy = ck["config"].get("reward_head") or any(k.startswith("head.") for k in ck["model"])
        return REWARD_MODEL if legacy else LANGUAGE_MODEL
    if kind not in KINDS:
        raise CheckpointError(f"checkpoint {ck['path']} has kind {kind!r}; npgpt knows {' and '.join(KINDS)}")
    return kind


def model_config(ck) -> GPTConfig:
    """The GPTConfig in a checkpoint's config.json (a one-line CheckpointError if it is not one)."""
    try:
        return GPTConfig.from_dict(ck["config"]["model"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint {ck['path']} is corrupt: config.json's model settings: {_one_line(e)}"
        ) from None


def checkpoint_dtype(ck) -> np.dtype:
    """The float dtype the checkpoint's model was trained in (config.json's train.dtype; float32 if unsaid)."""
    train = ck["config"].get("train", {})
    name = train.get("dtype", "float32") if isinstance(train, dict) else None
    if name not in ("float32", "float64"):
        raise CheckpointError(
            f"checkpoint {ck['path']} is corrupt: config.json's train.dtype is {name!r}, not float32 or float64"
        )
    return np.dtype(name)


def load_weights(model, ck, weights=None) -> None:
    """``model.load_state_dict`` of the checkpoint's weights (``weights``: a part of them, e.g. a reward
    model's trunk); a mismatch is a one-line CheckpointError, not the list of every key."""
    try:
        model.load_state_dict(ck["model"] if weights is None else weights)
    except (TypeError, ValueError) as e:
        lines = str(e).splitlines()  # the title, then one line per kind: "missing keys (3): a, b, c"
        what = "; ".join(line.strip().split(":")[0] for line in lines[1:]) or _one_line(e)[:200]
        raise CheckpointError(
            f"checkpoint {ck['path']}: its weights do not fit the model of its config.json ({what})"
        ) from None


def _one_line(e) -> str:
    return " ".join(str(e).split())


def _read_json_object(path: Path, name: str) -> dict:
    """A JSON file of the checkpoint that must hold an object (one-line CheckpointError otherwise)."""
    try:
        obj = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt: {name}: {_one_line(e)}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} is corrupt: {name} holds a {type(obj).__name__}, not an object")
    return obj


def _verify_manifest(path: Path, state: dict) -> None:
    """Every file the loader reads is in the manifest, and its size and SHA-256 match."""
    manifest = state.get("manifest")
    if not isinstance(manifest, dict):
        raise CheckpointError(
            f"checkpoint {path} is corrupt: state.json has no manifest of its files' checksums, so they cannot be checked"
        )
    needed = ["config.json", "model.safetensors"]
    needed += ["optimizer.safetensors"] if "optimizer" in state else []
    needed += ["tokenizer.json"] if (path / "tokenizer.json").exists() else []
    unlisted = [name for name in needed if name not in manifest]
    if unlisted:
        raise CheckpointError(f"checkpoint {path} is corrupt: the manifest in state.json does not list {unlisted[0]}")
    for name, meta in manifest.items():
        ok = isinstance(meta, dict) and isinstance(meta.get("bytes"), int) and isinstance(meta.get("sha256"), str)
        if not ok or not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise CheckpointError(
                f"checkpoint {path} is corrupt: manifest entry {name!r} is not a file name with its bytes and sha256"
            )
        f = path / name
        if not f.is_file():
            raise CheckpointError(f"checkpoint {path} is incomplete: {name} is missing")
        if f.stat().st_size != meta["bytes"] or _sha256(f) != meta["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupt: {name} does not match its recorded checksum")


def rng_state(rng: np.random.Generator) -> dict:
    """A numpy Generator's state as JSON (PCG64's integers are arbitrary-precision in JSON)."""
    return rng.bit_generator.state


def restore_rng(state: dict) -> np.random.Generator:
    bg = getattr(np.random, state["bit_generator"])()
    bg.state = state
    return np.random.Generator(bg)
