"""Checkpoints: a folder of safetensors (arrays) and JSON (everything else). Nothing is pickled.

Layout of ``DIR``::

    model.safetensors       the model's state_dict (float arrays)
    optimizer.safetensors   optimizer state arrays (moments), if an optimizer was saved
    config.json             {"model": GPTConfig fields, "train": training settings}
    tokenizer.json          the tokenizer's vocabulary
    state.json              step, optimizer hyperparameters, RNG states, and a manifest of the
                            files above with their sizes and SHA-256, checked on load

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

FORMAT_VERSION = 1


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


def save_checkpoint(path, model, config: dict, tokenizer=None, optimizer=None, state: dict | None = None) -> Path:
    """Write a checkpoint folder atomically; returns its path.

    ``config`` is JSON-able ({"model": ..., "train": ...}); ``state`` holds step, RNG states and
    any other JSON-able progress; ``optimizer`` must offer ``state_dict()`` with an array part.
    """
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


def read_checkpoint(path) -> dict:
    """Read and verify a checkpoint folder; returns a dict of its parts (arrays on the CPU).

    Keys: ``config``, ``state``, ``model`` (name -> array), ``optimizer`` (the state dict, or None),
    ``tokenizer_json`` (str or None), ``path``.
    """
    from safetensors.numpy import load_file

    path = resolve(path)
    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt: {e}") from None
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {state.get('format_version')}, expected {FORMAT_VERSION}")
    for name, meta in state.get("manifest", {}).items():
        f = path / name
        if not f.exists():
            raise CheckpointError(f"checkpoint {path} is incomplete: {name} is missing")
        if f.stat().st_size != meta["bytes"] or _sha256(f) != meta["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupt: {name} does not match its recorded checksum")
    try:
        model = load_file(str(path / "model.safetensors"))
        opt = None
        if "optimizer" in state:
            opt = dict(state["optimizer"], state=load_file(str(path / "optimizer.safetensors")))
    except Exception as e:  # safetensors raises several kinds for damaged files
        raise CheckpointError(f"checkpoint {path} is corrupt: {e}") from None
    tok = path / "tokenizer.json"
    return {
        "path": path,
        "config": config,
        "state": state,
        "model": model,
        "optimizer": opt,
        "tokenizer_json": tok.read_text(encoding="utf-8") if tok.exists() else None,
    }


def rng_state(rng: np.random.Generator) -> dict:
    """A numpy Generator's state as JSON (PCG64's integers are arbitrary-precision in JSON)."""
    return rng.bit_generator.state


def restore_rng(state: dict) -> np.random.Generator:
    bg = getattr(np.random, state["bit_generator"])()
    bg.state = state
    return np.random.Generator(bg)
