"""The run folder: one discipline for every command that writes a training run (train, sft, reward, rl, dpo).

A run folder holds ``checkpoint/`` (written atomically, ``npgpt.checkpoint``) and ``log.jsonl``
(one JSON object a line, the measurements of the run). The rules:

* A new run refuses a folder that holds a checkpoint unless ``overwrite`` (nothing is lost by a
  typo), and never writes into the folder of a checkpoint it reads (``--init-from``, ``--ref``, the
  reward model), even with ``overwrite``: it would replace the run it is made from.
* A new run removes the old run's checkpoint and log before it writes anything (``start_fresh``),
  so a stop at any moment never leaves the new run's log beside the old run's checkpoint.
* The log agrees with the checkpoint: a resumed run first drops the rows written after the
  checkpoint's step (``trim_log``: a stop after them and before the next save loses those steps,
  and the resumed run writes them again).
* The log is JSON only: ``append_log`` refuses NaN and infinities (``json.dumps(allow_nan=False)``),
  and a non-finite loss stops the run (``check_finite``) before anything is saved.
* Ctrl-C is held until the step is done (``DeferCtrlC``); a second one stops at once, except
  during a save, which always finishes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from .checkpoint import CheckpointError

CHECKPOINT = "checkpoint"
LOG = "log.jsonl"


class NonFiniteError(ValueError):
    """A loss or gradient norm became NaN or infinite: the run stops; nothing non-finite is saved."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the message says what was saved and how to continue."""


def holds_checkpoint(out) -> bool:
    out = Path(out)
    return any((out / name / "state.json").exists() for name in (CHECKPOINT, CHECKPOINT + ".old"))


def _overlaps(path, out) -> bool:
    """Whether writing the run folder ``out`` would touch the checkpoint folder ``path``."""
    path, out = Path(path).resolve(), Path(out).resolve()
    own = {out} | {out / (CHECKPOINT + s) for s in ("", ".old", ".tmp")}
    return path in own or path in out.parents


def check_out_dir(out, resume=False, overwrite=False, reads=None):
    """Before anything is read or written: may this run write into ``out``?

    ``reads`` is {flag: checkpoint path} of the checkpoints the run reads. Raises a one-line
    CheckpointError if ``out`` is (or holds) one of them, if it holds a checkpoint and neither
    ``resume`` nor ``overwrite`` is given, or if ``resume`` finds no checkpoint there.
    """
    out = Path(out)
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out-dir, --overwrite replaces it: give one of them")
    for flag, path in (reads or {}).items():
        if path and _overlaps(path, out):
            raise CheckpointError(
                f"--out-dir {out} is where {flag} {path} lives: a run never writes over the run it reads "
                "(even with --overwrite); choose another --out-dir"
            )
    if resume and not holds_checkpoint(out):
        raise CheckpointError(
            f"nothing to resume: no checkpoint at {out / CHECKPOINT} (start the run without --resume)"
        )
    if not resume and not overwrite and holds_checkpoint(out):
        raise CheckpointError(
            f"{out} already holds a run's checkpoint: continue it with --resume, choose another --out-dir, "
            "or pass --overwrite to replace it"
        )


def start_fresh(out):
    """Make ``out`` the folder of a new run: the old run's checkpoint and log are removed first.

    The checkpoint folder is renamed before it is deleted, so a stop in the middle never leaves a
    half-deleted folder that looks like a checkpoint.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT, CHECKPOINT + ".old", CHECKPOINT + ".tmp"):
        if (out / name).exists():
            doomed = out / (name + ".deleting")
            if doomed.exists():
                shutil.rmtree(doomed)
            os.rename(out / name, doomed)
            shutil.rmtree(doomed)
    (out / LOG).unlink(missing_ok=True)


def read_log(out) -> list:
    """The rows of ``out/log.jsonl`` (a torn last line, from a kill mid-write, is left out)."""
    path = Path(out) / LOG
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def trim_log(out, step) -> list:
    """Keep the log rows of steps <= ``step`` (the checkpoint's); rewritten atomically. Returns them."""
    rows = [r for r in read_log(out) if isinstance(r.get("step"), int) and r["step"] <= step]
    path = Path(out) / LOG
    tmp = path.with_name(LOG + ".tmp")
    tmp.write_text("".join(json.dumps(r, allow_nan=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return rows


def append_log(out, row: dict):
    """Append one row to ``out/log.jsonl``; a NaN or infinity in it is an error (the log is JSON)."""
    text = json.dumps(row, allow_nan=False)  # before opening: a bad row leaves the file as it was
    with open(Path(out) / LOG, "a", encoding="utf-8") as f:
        f.write(text + "\n")


def check_finite(name, value, step):
    """Raise NonFiniteError naming ``name`` and ``step`` if ``value`` is NaN or infinite."""
    value = float(value)
    if not math.isfinite(value):
        raise NonFiniteError(
            f"the {name} is {value} at step {step}: stopped (nothing non-finite is saved); "
            "lower --lr, or check the data and the settings"
        )
    return value


class DeferCtrlC:
    """Hold a Ctrl-C (SIGINT) until the current step is finished.

    A KeyboardInterrupt in the middle of an optimizer step would leave some parameters updated and
    others not. So the first Ctrl-C only sets ``pressed``, which ``check()`` turns into a
    KeyboardInterrupt between steps. A second Ctrl-C stops at once (``forced``), except inside
    ``saving()``: a save always finishes (it is atomic anyway, but a half-written ``.tmp`` is
    litter). Only in the main thread (where Python runs signal handlers).
    """

    def __init__(self):
        self.pressed = self.forced = self.in_save = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handler(self, signum, frame):
        if self.pressed and not self.in_save:
            self.forced = True
            raise KeyboardInterrupt
        self.pressed = True

    @contextmanager
    def saving(self):
        self.in_save = True
        try:
            yield
        finally:
            self.in_save = False

    def check(self, dp=None):
        """Raise KeyboardInterrupt if Ctrl-C was pressed (data parallel ``dp``: on any rank, so all stop together)."""
        if self.pressed if dp is None else dp.any(self.pressed):
            raise KeyboardInterrupt
