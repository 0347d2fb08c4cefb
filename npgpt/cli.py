"""The ``npgpt`` command line: one subcommand per job, each a module of npgpt/commands/."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from ._startup import leave_quietly

# module that defines ``add_parser(subparsers)`` for each subcommand, in the order --help lists them
COMMANDS = [
    "npgpt.commands.train",
    "npgpt.commands.sweep",
    "npgpt.commands.sample",
    "npgpt.commands.gradcheck",
    "npgpt.commands.bench",
    "npgpt.commands.tokenize",
    "npgpt.commands.bench_dist",
    "npgpt.commands.sft",
    "npgpt.commands.reward",
    "npgpt.commands.rl",
    "npgpt.commands.dpo",
    "npgpt.commands.chat",
    "npgpt.commands.serve",
]


class UsageError(Exception):
    """A flag the command line cannot take (unknown, or a number outside its range): one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a ``UsageError`` (``main`` prints its one line, returns 2)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="npgpt", description="A GPT built from scratch in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # subcommands get this class too
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv=None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    # while the commands are imported, a Ctrl-C leaves at once (npgpt/_startup.py says why)
    previous = signal.signal(signal.SIGINT, leave_quietly) if in_main_thread else None
    try:
        parser = build_parser()  # imports every command: a Ctrl-C in the first second lands here
        args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    finally:
        if previous is not None:  # Python's own handler, unless the caller had set another
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is leave_quietly else previous)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:  # commands that save handle Ctrl-C themselves; elsewhere one line, no traceback
        print("\nnpgpt: interrupted", file=sys.stderr)
        code = 130
    if code == 130 and argv is None and in_main_thread:  # the program: stopped and said so, it only exits now
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # (a further Ctrl-C must not print a traceback)
    return code


if __name__ == "__main__":
    sys.exit(main())
