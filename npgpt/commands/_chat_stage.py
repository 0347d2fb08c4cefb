"""What the four chat-tuning commands (sft, reward, rl, dpo) share: flags from a settings class,
one-line errors, and the summary printed at the end."""

from __future__ import annotations

import json
import sys

from ..backend import DeviceError
from ..checkpoint import CheckpointError
from ..data import DataError
from .flags import add_dataclass_flags, given_flags


def add_stage_parser(sub, name, help_, description, config_cls, run):
    p = sub.add_parser(name, help=help_, description=description)
    add_dataclass_flags(p, config_cls)
    p.set_defaults(func=lambda args: _main(name, config_cls, run, args))
    return p


def _main(name, config_cls, run, args) -> int:
    try:
        summary = run(config_cls(**given_flags(config_cls, args)))
    except (ValueError, TypeError, DataError, CheckpointError, DeviceError, OSError) as e:
        print(f"npgpt {name}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nnpgpt {name}: interrupted; nothing was saved", file=sys.stderr)
        return 130
    print(json.dumps(summary))
    return 0
