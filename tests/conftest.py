"""Shared test helpers (kept small; import them with ``from conftest import ...``).

- ``require_torch()``: import and return torch, or skip the test with TORCH_SKIP_REASON. With
  ``NPGPT_REQUIRE_TORCH=1`` (set in CI) a missing torch fails the test instead of skipping it.
- ``require(name)``: the same for any optional reference module (``require("transformers")``):
  every optional import in the tests goes through it, so none can turn into a silent skip in CI.
- ``torch``: fixture form of ``require_torch()``; mark such tests with ``@pytest.mark.torch``.
- ``requires_cuda``: a skip marker for tests that need CuPy and a GPU (one clear reason, taken from
  the ``DeviceError`` npgpt raises); use it with ``@pytest.mark.cuda``, e.g.
  ``pytestmark = [pytest.mark.cuda, requires_cuda]``.
- ``op_cases()``: pytest params ``(op class, Case)``, one per gradient-check case of every registered
  op, with ids like ``Add-(3,4)x(3,4)``; ``make_inputs(case, xp, dtype)`` builds a case's arrays.
- ``require_mpi()`` / ``run_mpi(n, argv)``: run a program under ``mpiexec -n n`` (npgpt.distributed);
  a missing mpi4py or mpiexec skips, and fails under CI (``CI=true``, ``NPGPT_REQUIRE_TORCH=1``) or
  ``NPGPT_REQUIRE_MPI=1``.
- ``rng``: fixture, a ``numpy.random.Generator`` seeded with 0. NumPy's global seed is also reset
  before every test, so nothing depends on test order.

Torch tests pass ``dtype=torch.float64`` explicitly: nothing here changes torch's global default dtype.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from npgpt.backend import DeviceError, cuda_available, cupy_module
from npgpt.distributed import DistributedError, mpiexec_command, mpiexec_env
from npgpt.gradcheck_cases import all_functions, cases_for

TORCH_SKIP_REASON = "torch not installed: cross-checks skipped"


def require(name, reason=None):
    """Import and return the optional module ``name`` (e.g. "transformers"), or skip the test.

    With NPGPT_REQUIRE_TORCH=1 (set in CI) a module that does not import fails the test instead:
    a missing, broken or renamed reference must never pass as a skip.
    """
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if os.environ.get("NPGPT_REQUIRE_TORCH") == "1":
            pytest.fail(f"NPGPT_REQUIRE_TORCH=1 but {name} does not import ({e}): cross-checks cannot run")
        pytest.skip(reason or f"{name} not installed: cross-checks skipped")


def require_torch():
    """Return the torch module, or skip (fail when NPGPT_REQUIRE_TORCH=1) if it does not import."""
    return require("torch", TORCH_SKIP_REASON)


@pytest.fixture
def torch():
    return require_torch()


def _cuda_skip_reason() -> str:
    try:
        cupy_module()
        return ""
    except DeviceError as e:  # says whether CuPy is missing or sees no GPU
        return f"needs CuPy and a GPU: {e}"


CUDA_AVAILABLE = cuda_available()
requires_cuda = pytest.mark.skipif(not CUDA_AVAILABLE, reason=_cuda_skip_reason() or "needs CuPy and a GPU")


def case_id(op, case) -> str:
    return f"{op.__name__}-{case.name}".replace(", ", ",").replace(" ", "_")


def op_cases(keep=lambda op, case: True):
    """``pytest.param(op, case)`` for every Case of every registered op (those ``keep`` accepts)."""
    return [pytest.param(op, c, id=case_id(op, c)) for op in all_functions() for c in cases_for(op) if keep(op, c)]


def make_inputs(case, xp=np, dtype=np.float64, seed=0):
    """The case's input arrays: drawn from a seeded generator, so every backend sees the same numbers."""
    return case.make(xp, dtype, np.random.default_rng(seed))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fixed_seed():
    np.random.seed(0)


# ----------------------------------------------------------------------------- MPI (npgpt.distributed)
def require_mpi():
    """Skip when mpi4py or mpiexec is missing; fail instead under CI (CI=true, NPGPT_REQUIRE_TORCH=1) or
    NPGPT_REQUIRE_MPI=1, where the distributed tests must run (the `test` extra installs mpi4py and MPICH)."""
    try:
        import mpi4py  # noqa: F401

        mpiexec_command(1, [])
    except (ImportError, DistributedError) as e:
        if os.environ.get("CI") == "true" or "1" in (
            os.environ.get("NPGPT_REQUIRE_MPI"),
            os.environ.get("NPGPT_REQUIRE_TORCH"),
        ):
            pytest.fail(f"the MPI tests must run here, but: {e}")
        pytest.skip(f"needs mpi4py and mpiexec: {e}")


def run_mpi(n, argv, timeout=120, threads=1, env=None, check=True):
    """Run ``mpiexec -n n python <argv>`` (one BLAS thread per rank); returns the CompletedProcess.

    With ``check`` a non-zero exit fails the test and shows the ranks' output.
    """
    require_mpi()
    full_env = mpiexec_env(threads, base={**os.environ, **(env or {})})
    res = subprocess.run(
        mpiexec_command(n, [sys.executable, *argv]), capture_output=True, text=True, timeout=timeout, env=full_env
    )
    if check and res.returncode != 0:
        pytest.fail(
            f"mpiexec -n {n} python {' '.join(argv)} exited with {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        )
    return res
