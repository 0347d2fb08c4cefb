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
- ``rel_diff(a, b)`` / ``training_rounding_bound(dtype, steps, depth)``: the normwise relative
  difference of two trained parameter sets, and what floating-point arithmetic guarantees for it.
- ``logit_rounding_bound(model, T, dtype)``: how far two float implementations of a GPT forward
  may differ in a logit, from the rounding of each sum along the way.
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


# ----------------------------------------------------------------------------- rounding bounds
def rel_diff(a: dict, b: dict) -> float:
    """Normwise relative difference ||a - b|| / ||b|| over all arrays of two name -> array dicts (in float64)."""
    assert a.keys() == b.keys()
    num = sum(float(np.sum((np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)) ** 2)) for k in b)
    den = sum(float(np.sum(np.asarray(b[k], np.float64) ** 2)) for k in b)
    return (num / den) ** 0.5


def training_rounding_bound(dtype, steps: int, depth: int) -> float:
    """How far two runs of the same AdamW training, summing in different orders, may drift apart.

    Arithmetic, not one run: a sum of ``depth`` rounded terms carries a relative error of at most
    gamma = depth * u (u = eps / 2, the unit roundoff; Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2002, ch. 3). ``depth`` is the longest chain of additions one gradient element goes
    through: the examples x positions summed into a weight gradient, plus each layer's longest inner
    product. AdamW's step m / sqrt(v) is homogeneous of degree 0 in the gradient: a relative error e
    in g moves m by e and v by 2e, so the update by at most e + 2e / 2 = 2e, while the update is no
    larger than the parameter it changes. To first order, errors of successive steps add: 2 gamma
    per step, ``steps`` steps, and x2 for two runs each that far from the exact one:
    ``4 * steps * depth * u``.

    Why normwise (||a - b|| / ||b||) and not element by element: the relative error of one sum is
    gamma times its condition number sum |terms| / |sum|, large for the few elements whose gradient
    nearly cancels, and AdamW's step, lr * m / sqrt(v), hides how small they are. The largest
    element-wise difference is theirs and moves with the BLAS and thread count (it broke a
    "2 x one run's float32 error" bound on a fresh machine, issue 19); the norm is the whole set's.
    Assumed: no gradient element is so close to 0 that rounding decides its sign (AdamW's first
    step, lr * sign(g), would then differ by 2 lr). That is a property of the fixed seed and data,
    the same on every machine. A real bug (a rank's examples dropped, a wrong average) moves every
    element, far past this bound.
    """
    return 4 * steps * depth * float(np.finfo(dtype).eps) / 2


def logit_rounding_bound(model, T: int, dtype) -> float:
    """Largest |difference| rounding allows between two computations of ``model``'s logits (T positions).

    A logit ends a chain of about ``depth`` rounded additions (per block: two LayerNorms' means and
    variances 4C, qkv C, scores C / n_head, softmax and mixing 2T, projection C, MLP C + 4C) and is
    the C-term product of the final LayerNorm's output with a row of the tied head wte. That output
    is gamma * h + beta with sum |h_i| <= C (its mean square is 1), so the product's terms sum in
    absolute value to at most C * max|wte| * (max|gamma| + max|beta|). Each computation is within
    depth * u of that (u = eps / 2) from the exact logit; two of them, twice.
    """
    cfg, ln_f = model.config, model.transformer.ln_f
    C = cfg.n_embd
    depth = cfg.n_layer * (11 * C + C // cfg.n_head + 2 * T) + 3 * C
    gain = float(np.abs(ln_f.weight.numpy()).max()) + (
        float(np.abs(ln_f.bias.numpy()).max()) if ln_f.bias is not None else 0.0
    )
    scale = C * float(np.abs(model.transformer.wte.weight.numpy()).max()) * gain
    return 2 * depth * float(np.finfo(dtype).eps) / 2 * scale
