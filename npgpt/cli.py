"""The ``npgpt`` command line: one subcommand per job, each a module of npgpt/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

# module that defines ``add_parser(subparsers)`` for each subcommand, in the order --help lists them
COMMANDS = [
    "npgpt.commands.train",
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
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="npgpt", description="A GPT built from scratch in NumPy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
