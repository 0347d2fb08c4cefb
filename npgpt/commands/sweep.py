"""``npgpt sweep``: train a grid of model shapes x compute budgets and record each held-out loss.

The sweep is npgpt/sweep.py; the laws fitted to its results are npgpt/scaling.py. Results go to
``--out-dir``/results.json after every run; ``--resume`` trains only the runs it lacks.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ..checkpoint import CheckpointError
from ..data import DataError
from ..sweep import RESULTS, SweepConfig, load_results, run_sweep
from .flags import add_dataclass_flags, given_flags


def add_parser(sub):
    p = sub.add_parser(
        "sweep",
        help="train a grid of model sizes x compute budgets (scaling laws)",
        description="Train a grid of GPT shapes at several compute budgets (C = 6ND) on a text file and "
        "record each run's held-out loss in OUT_DIR/results.json.",
    )
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out-dir with its own settings")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a sweep")
    add_dataclass_flags(p, SweepConfig)
    p.set_defaults(func=main)


def config_from_args(args) -> SweepConfig:
    """Defaults < (``--resume``) the settings in the results file < the flags given."""
    given = given_flags(SweepConfig, args)
    base = {}
    if args.resume:
        if args.overwrite:
            raise ValueError("--resume continues the sweep, --overwrite replaces it: give one of them")
        path = Path(given.get("out_dir", SweepConfig.out_dir)) / RESULTS
        if not path.exists():
            raise ValueError(f"--resume: {path} does not exist (start the sweep without --resume)")
        base = load_results(path)["settings"]
    known = {f.name for f in dataclasses.fields(SweepConfig)}
    return SweepConfig(**{k: v for k, v in {**base, **given}.items() if k in known})


def main(args) -> int:
    try:
        cfg = config_from_args(args).validate()
        results = run_sweep(cfg, resume=args.resume, overwrite=args.overwrite, log=_log if cfg.progress else _quiet)
    except KeyboardInterrupt:
        print(
            f"\nnpgpt sweep: interrupted; the finished runs are saved in {Path(args.out_dir or SweepConfig.out_dir) / RESULTS}"
            " (continue with --resume)",
            file=sys.stderr,
        )
        return 130
    except (ValueError, TypeError, DataError, CheckpointError, OSError) as e:
        print(f"npgpt sweep: {e}", file=sys.stderr)
        return 2
    print(
        f"done: {len(results['runs'])} runs ({len(results['skipped'])} skipped), "
        f"{results['cpu_seconds'] / 60:.1f} min of CPU in all; results in {Path(cfg.out_dir) / RESULTS}"
    )
    return 0


def _log(line):
    print(line, file=sys.stderr, flush=True)


def _quiet(line):
    pass
