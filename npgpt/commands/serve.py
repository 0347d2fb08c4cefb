"""``npgpt serve``: a local web page to chat with (or complete text by) a checkpoint, showing each
token's probability, its alternatives and the attention behind it (``npgpt.serve``)."""

from __future__ import annotations

import argparse
import errno
import sys

from ..backend import DeviceError
from ..checkpoint import CheckpointError
from ..data import DataError
from ..serve import Server, load_session
from ..settings import POSITIVE_INT, Range
from .flags import help_with_range

PORT = Range(int, low=0, high=65535)


def add_parser(sub):
    p = sub.add_parser("serve", help="chat with a model in the browser, and see inside it (Ctrl-C stops)")
    p.add_argument("--checkpoint", default="runs/sft/checkpoint", help="checkpoint folder (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument(
        "--port", type=PORT.parse, default=8000, help=help_with_range("port; 0 picks a free one", PORT, 8000)
    )
    p.add_argument(
        "--max-tokens",
        type=POSITIVE_INT.parse,
        default=None,
        help=f"longest reply a request may ask for ({POSITIVE_INT}; default: the context)",
    )
    p.add_argument(
        "--max-streams",
        type=POSITIVE_INT.parse,
        default=16,
        help=help_with_range("replies streaming at once; more get 503", POSITIVE_INT, 16),
    )
    p.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="where the model runs (default: %(default)s)"
    )
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be in [0, 65535], got {args.port}")
    if args.max_streams < 1 or (args.max_tokens is not None and args.max_tokens < 1):
        return _fail("--max-streams and --max-tokens must be >= 1")
    try:
        session = load_session(args.checkpoint, args.device, args.max_tokens)
    except (CheckpointError, DataError, DeviceError, ValueError, OSError) as e:
        return _fail(str(e))
    try:
        server = Server(session, args.host, args.port, args.max_streams, args.verbose)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return _fail(f"port {args.port} on {args.host} is in use: pick another with --port (0 = any free port)")
        return _fail(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}")
    kind = "chat" if session.chat else "completion (a base model: no chat tokens)"
    try:  # (the banner inside: a Ctrl-C right after it still stops cleanly)
        print(f"npgpt serve: {kind} page for {session.name} at {server.url} (Ctrl-C stops)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("npgpt serve: stopped", flush=True)
    finally:
        server.server_close()
    return 0


def _fail(message) -> int:
    print(f"npgpt serve: {message}", file=sys.stderr)
    return 2
