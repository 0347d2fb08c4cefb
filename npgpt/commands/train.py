"""``npgpt train``: train a GPT on a text file (default: the shipped Shakespeare); the loop is npgpt/train.py.

Settings come from, in order, the defaults, the checkpoint a run continues (``--resume``: all of its
settings) or starts from (``--init-from``: its model's), a ``--config`` file, and the flags. A file
or flag that would change the model of that checkpoint is an error.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ..backend import DeviceError
from ..checkpoint import CheckpointError
from ..data import DataError
from ..distributed import DistributedError, init_communicator
from ..distributed.training import abort
from ..memory import tune_malloc
from ..train import (
    MODEL_SETTINGS,
    SHAPE_SETTINGS,
    TOKENIZER_SETTINGS,
    Diverged,
    SaveInterrupted,
    TrainConfig,
    saved_settings,
    settings_from_file,
    train,
)
from .flags import add_dataclass_flags
from .sample import sample_text


def add_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a GPT on a text file (default: the shipped Shakespeare)",
        description="Train a GPT on a text file, or continue or fine-tune one.",
    )
    p.add_argument("--config", help="TOML or JSON file of settings (flags given here override it)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out-dir, with the settings of its checkpoint"
    )
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a checkpoint")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="train on the ranks mpiexec started (found by itself under mpiexec -n N with N > 1); "
        "--batch-size is then per rank",
    )
    p.add_argument("--zero", action="store_true", help="with several ranks: shard the AdamW state over them (ZeRO-1)")
    add_dataclass_flags(p, TrainConfig)
    p.set_defaults(func=main)


def _flag(name, value):
    if isinstance(value, bool):
        return f"--{'' if value else 'no-'}{name.replace('_', '-')}"
    return f"--{name.replace('_', '-')} {value}"


def _refuse_changes(given, saved, names, why):
    """ValueError if a setting in ``names`` is given with a value other than the checkpoint's."""
    for name in names:
        if name in given and name in saved and given[name] != saved[name]:
            raise ValueError(f"{_flag(name, given[name])} conflicts with {why}, which has {name}={saved[name]!r}")


def config_from_args(args) -> TrainConfig:
    """This run's settings: defaults < the checkpoint it continues or starts from < --config < flags."""
    given = settings_from_file(args.config) if args.config else {}
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given.update({k: v for k, v in flags.items() if v is not None})
    base = {}
    if args.resume:
        if given.get("init_from"):
            raise ValueError("--resume continues the run in --out-dir, --init-from starts a new one: give one of them")
        checkpoint = Path(given.get("out_dir", TrainConfig.out_dir)) / "checkpoint"
        base = saved_settings(checkpoint)
        why = f"the checkpoint {checkpoint} (a resumed run keeps its model; leave the flag out or start a new run)"
        _refuse_changes(given, base, (*MODEL_SETTINGS, *TOKENIZER_SETTINGS, "dtype"), why)
    elif given.get("init_from"):
        saved = saved_settings(given["init_from"])
        base = {k: saved[k] for k in (*MODEL_SETTINGS, *TOKENIZER_SETTINGS, "dtype") if k in saved}
        why = f"--init-from {given['init_from']} (fine-tuning keeps the shape of its model and its tokenizer)"
        _refuse_changes(given, base, (*SHAPE_SETTINGS, *TOKENIZER_SETTINGS), why)
    return TrainConfig(**{**base, **given})


def main(args) -> int:
    tune_malloc()  # reuse freed activation buffers instead of page-faulting them in every step
    try:
        comm = init_communicator(required=args.distributed or args.zero)  # None: one process, no mpi4py
    except DistributedError as e:
        print(f"npgpt train: {e}", file=sys.stderr)
        return 2
    if comm is None:
        return _train(args)
    try:
        code = _train(args, comm)
    except BaseException as e:  # a bug, or a stop mid-collective: the other ranks must not wait for ever
        abort(comm, f"npgpt train: rank {comm.rank} failed ({type(e).__name__}: {e}): ending every rank", 1)
        raise
    if code == 2:  # the one-line error is printed; the other ranks may be waiting for this one
        abort(comm, f"npgpt train: rank {comm.rank} failed: ending every rank", 2)
    return code


def _train(args, comm=None) -> int:
    try:
        cfg = config_from_args(args)
        res = train(cfg, resume=args.resume, overwrite=args.overwrite, comm=comm, zero=args.zero)
    except (ValueError, TypeError, DataError, CheckpointError, DeviceError, OSError, Diverged, MemoryError) as e:
        print(f"npgpt train: {e}", file=sys.stderr)
        return 2
    except SaveInterrupted:
        return 130  # train() said which checkpoint is kept
    except KeyboardInterrupt:  # before the first step (reading the checkpoint or the data, building the model)
        print("npgpt train: interrupted before the first step: nothing was saved", file=sys.stderr)
        return 130
    try:
        return _report(cfg, res, comm)
    except KeyboardInterrupt:  # during the sample at the end: the run is saved
        print(f"\nnpgpt train: the sample was interrupted; the run is saved in {res.out_dir}", file=sys.stderr)
        return 130


def _report(cfg, res, comm) -> int:
    if comm is not None and comm.rank != 0:
        return 130 if res.interrupted else 0  # rank 0 reports and samples
    print(
        f"\n{'stopped' if res.interrupted else 'done'} at step {res.step} in {res.seconds:.0f} s: "
        f"train loss {res.train_loss:.4f}, val loss {res.val_loss:.4f}; "
        f"checkpoint, log.jsonl and loss.png in {res.out_dir}"
    )
    if res.interrupted:
        return 130
    if cfg.sample_chars > 0:
        print("\n--- a sample (temperature 0.8, top-k 40) ---")
        sample_text(
            res.out_dir / "checkpoint",
            prompt="\n",
            max_new_tokens=cfg.sample_chars,
            temperature=0.8,
            top_k=40,
            seed=cfg.seed,
            stream=True,
        )
        print()
    return 0
