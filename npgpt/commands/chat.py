"""``npgpt chat``: talk to a chat-tuned checkpoint in the terminal (or through a pipe)."""

from __future__ import annotations

import argparse
import sys

from ..backend import DeviceError
from ..chat.chat_loop import chat_session
from ..chat.model import load_policy
from ..chat.template import chat_token_ids
from ..checkpoint import CheckpointError
from ..data import DataError
from ..sampling import check_sampling_args
from ..settings import NON_NEGATIVE, POSITIVE_INT, PROBABILITY, SEED
from .flags import help_with_range


def add_parser(sub):
    p = sub.add_parser("chat", help="talk to a chat-tuned model (after `npgpt sft`); Ctrl-D or Ctrl-C quits")
    p.add_argument("--checkpoint", default="runs/sft/checkpoint", help="chat-tuned checkpoint (default: %(default)s)")
    p.add_argument(
        "--temperature", type=NON_NEGATIVE.parse, default=0.8, help=help_with_range("0 = greedy", NON_NEGATIVE, 0.8)
    )
    p.add_argument(
        "--top-k", type=POSITIVE_INT.parse, help=f"sample only from the k most likely tokens ({POSITIVE_INT})"
    )
    p.add_argument(
        "--top-p",
        type=PROBABILITY.parse,
        help=f"sample only from the smallest set with probability >= p ({PROBABILITY})",
    )
    p.add_argument("--seed", type=SEED.parse, help=f"seed for reproducible replies ({SEED})")
    p.add_argument(
        "--max-new-tokens",
        type=POSITIVE_INT.parse,
        default=200,
        help=help_with_range("longest reply", POSITIVE_INT, 200),
    )
    p.add_argument("--system", default="", help="a system message put before the conversation")
    p.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="where the model runs (default: %(default)s)"
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        check_sampling_args(args.temperature, args.top_k, args.top_p)
        model, tok, ck = load_policy(args.checkpoint)
        chat_token_ids(tok)  # a base model: one line saying to run `npgpt sft` first
        model.to(args.device)
    except (CheckpointError, DataError, DeviceError, ValueError, OSError) as e:
        print(f"npgpt chat: {e}", file=sys.stderr)
        return 2
    model.eval()

    def write(s):
        sys.stdout.write(s)
        sys.stdout.flush()

    try:  # (the banner inside: a Ctrl-C right after it still ends cleanly)
        write(f"chatting with {ck['path']} ({model.config.block_size}-token context); Ctrl-D or Ctrl-C quits\n")
        chat_session(model, tok, sys.stdin.readline, write, args)
    except KeyboardInterrupt:
        write("\n")
    return 0
