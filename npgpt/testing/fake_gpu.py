"""Run a Python script or module with the CuPy stand-in importable as ``cupy`` (see ``npgpt.testing``).

    python -m npgpt.testing.fake_gpu SCRIPT.py [ARGS...]
    python -m npgpt.testing.fake_gpu -m MODULE [ARGS...]

Child processes (``mpiexec``, benchmark workers) get the stand-in too, through PYTHONPATH.
"""

from __future__ import annotations

import os
import runpy
import sys

from . import FAKE_CUPY, fake_gpu_env


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv == ["-m"]:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    os.environ.update(fake_gpu_env())
    sys.path.insert(0, str(FAKE_CUPY))
    if argv[0] == "-m":
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))  # as `python SCRIPT.py` does
        runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
