"""What the four chat-tuning commands (sft, reward, rl, dpo) share: flags from a settings class
(with their ranges, checked when the command line is read), ``--resume`` and ``--overwrite`` as in
``npgpt train``, one-line errors, and the summary printed at the end."""

from __future__ import annotations

import dataclasses
import json
import sys

from ..backend import DeviceError
from ..chat.loop import saved_stage_settings
from ..checkpoint import CheckpointError
from ..data import DataError
from ..runs import Interrupted
from .flags import add_dataclass_flags, given_flags


def add_stage_parser(sub, name, help_, description, config_cls, run):
    p = sub.add_parser(name, help=help_, description=description)
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out-dir, with the settings of its checkpoint"
    )
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out-dir holds a checkpoint")
    add_dataclass_flags(p, config_cls)
    p.set_defaults(func=lambda args: _main(name, config_cls, run, args))
    return p


def stage_config(config_cls, args):
    """The run's settings: the defaults < the checkpoint it resumes (``--resume``) < the flags."""
    given = given_flags(config_cls, args)
    if not args.resume:
        return config_cls(**given)
    out_dir = given.get("out_dir", config_cls.out_dir)
    saved = saved_stage_settings(out_dir)
    known = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{**{k: v for k, v in saved.items() if k in known}, **given})


def _main(name, config_cls, run, args) -> int:
    try:
        summary = run(stage_config(config_cls, args), resume=args.resume, overwrite=args.overwrite)
    except (ValueError, TypeError, DataError, CheckpointError, DeviceError, OSError, MemoryError) as e:
        print(
            f"npgpt {name}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}", file=sys.stderr
        )
        return 2
    except Interrupted as e:
        print(f"\nnpgpt {name}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\nnpgpt {name}: interrupted before the run started; nothing was written", file=sys.stderr)
        return 130
    print(json.dumps(summary))
    return 0
