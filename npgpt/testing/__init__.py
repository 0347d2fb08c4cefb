"""Tools for checking npgpt's code paths: a stand-in for CuPy that runs on NumPy.

``FAKE_CUPY`` is a folder holding ``cupy`` and ``cupyx`` packages built on NumPy that refuse what
CuPy refuses: a NumPy function or ufunc given a device array, a NumPy array mixed into a device
operation, a host read inside ``cupyx.allow_synchronize(False)``, a name CuPy does not have. Put
the folder first on the path and ``device="cuda"`` runs, on the CPU, through the same code a GPU
would run, so a slip in the GPU path shows up without a GPU. Nothing imports it by itself:

    python -m npgpt.testing.fake_gpu notebooks/16_the_gpu.py     # a script, on the stand-in
    python -m npgpt.testing.fake_gpu -m pytest -m cuda tests      # the CUDA tests, on the stand-in

It checks how code treats device arrays, not CuPy's numbers or its speed (``tools/gpu_check.sh``
is the check on a real GPU).
"""

from __future__ import annotations

import os
from pathlib import Path

FAKE_CUPY = Path(__file__).resolve().parent / "fake_cupy"


def fake_gpu_env(env=None) -> dict:
    """A copy of ``env`` (default: os.environ) whose PYTHONPATH puts the stand-in first, for child processes."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(FAKE_CUPY), env.get("PYTHONPATH", "")) if p)
    return env
