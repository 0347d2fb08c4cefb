"""Run as the ``npgpt`` command, a Ctrl-C in the first second ends the process with one line.

That second is spent importing NumPy and the commands. A KeyboardInterrupt raised there prints a
traceback from deep inside NumPy (or, landing in an import's clean-up, is printed and lost, and the
command goes on). Nothing has been written yet, so the command leaves at once instead: this module
is imported first by ``npgpt/__init__.py`` and, only when the process is the ``npgpt`` command or
``python -m npgpt``, installs that handler; ``npgpt.cli.main`` puts Python's default back once the
commands are imported. Imported as a library (a notebook, a test), npgpt leaves signals alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def leave_quietly(signum, frame):
    os.write(2, b"\nnpgpt: interrupted\n")
    os._exit(130)


def run_as_command() -> bool:
    """True in ``npgpt ...`` (the console script) and ``python [options] -m npgpt ...``."""
    argv = list(getattr(sys, "orig_argv", []))
    if "-m" in argv and argv.index("-m") + 1 < len(argv) and argv[argv.index("-m") + 1] == "npgpt":
        return True
    return os.path.basename(sys.argv[0]) in ("npgpt", "npgpt.exe") if sys.argv else False


if run_as_command() and threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, leave_quietly)
