"""Helpers shared by the assignment graders (``lessons/aNN_*/test_aNN_*.py``) and the meta tests.

Which implementation a grader tests is chosen by ``--lesson-impl=solutions|exercises`` (or the
environment variable ``NPGPT_LESSON_IMPL``); ``lessons/conftest.py`` turns that choice into the
``impl`` fixture, the imported module ``lessons.<assignment>.<solutions|exercises>``.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import os
from pathlib import Path

import numpy as np
import pytest

import npgpt

IMPLS = ("solutions", "exercises")
ENV_VAR = "NPGPT_LESSON_IMPL"
DEFAULT_IMPL = "solutions"
LESSONS_DIR = Path(__file__).resolve().parent


def chosen_impl(option_value: str | None) -> str:
    """The command-line option wins, then the environment variable, then ``solutions``."""
    which = option_value or os.environ.get(ENV_VAR) or DEFAULT_IMPL
    if which not in IMPLS:
        raise pytest.UsageError(f"--lesson-impl / {ENV_VAR}: expected one of {IMPLS}, got {which!r}")
    return which


def load_impl(package: str, which: str):
    """Import ``<package>.<which>`` (e.g. ``lessons.a01_autograd.solutions``).

    A missing ``solutions.py`` (deleted from a student handout) skips the test with a hint.
    """
    name = f"{package}.{which}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        if which == "solutions":
            pytest.skip(
                f"{name} is not present (removed from the handout?): grade your work with "
                f"--lesson-impl=exercises or {ENV_VAR}=exercises"
            )
        raise


def assignments() -> list[str]:
    """Package names of every assignment folder, e.g. ``lessons.a01_autograd``, in order."""
    return [f"lessons.{p.name}" for p in sorted(LESSONS_DIR.glob("a[0-9][0-9]_*")) if (p / "exercises.py").exists()]


# ----------------------------------------------------------------------------- inputs and checks
def t64(shape, seed=0, low=None, high=None, requires_grad=True, name=None):
    """A float64 tensor of standard-normal values (or uniform in [low, high)), seeded."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    t = npgpt.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)
    t.name = name
    return t


def distinct64(shape, seed=0, requires_grad=True):
    """Float64 values at least 0.1 apart (no ties), so max has a well-defined derivative."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if shape else 1
    v = rng.permutation(n) * 0.1 + rng.uniform(-0.02, 0.02)
    return npgpt.tensor((v - v.mean()).reshape(shape), requires_grad=requires_grad)


def assert_gradcheck(fn, inputs, what="", **kwargs):
    """``npgpt.gradcheck`` in float64; on failure the message holds the full report table."""
    report = npgpt.gradcheck(fn, inputs, **kwargs)
    assert report.ok, f"gradient check failed{' for ' + what if what else ''}:\n{report}"
    return report


def assert_close(actual, expected, what, rtol=1e-10, atol=1e-12):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# ----------------------------------------------------------------------------- for the meta tests
def stub_names(path) -> list[str]:
    """Functions and methods (``Class.method``) in a file whose body raises NotImplementedError("TODO ...")."""
    tree = ast.parse(Path(path).read_text())
    found = []

    def raises_todo(fn):
        for node in ast.walk(fn):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                f, args = node.exc.func, node.exc.args
                if (
                    isinstance(f, ast.Name)
                    and f.id == "NotImplementedError"
                    and args
                    and isinstance(args[0], ast.Constant)
                    and str(args[0].value).startswith("TODO")
                ):
                    return True
        return False

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and raises_todo(node):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef):
            found += [f"{node.name}.{m.name}" for m in node.body if isinstance(m, ast.FunctionDef) and raises_todo(m)]
    return found


def param_sets(test_fn) -> list[dict]:
    """Every combination of a test function's ``@pytest.mark.parametrize`` values, as kwargs dicts."""
    axes = []
    for mark in getattr(test_fn, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = []
        for v in values:
            v = v.values if hasattr(v, "values") and hasattr(v, "marks") else v  # pytest.param(...)
            v = v if len(names) > 1 else (v[0] if isinstance(v, tuple) and len(v) == 1 else v,)
            rows.append(dict(zip(names, v)))
        axes.append(rows)
    return [dict(itertools.chain.from_iterable(d.items() for d in combo)) for combo in itertools.product(*axes)]


def failures(test_fn, **fixtures) -> list[str]:
    """Run a grader test over all its parameter sets; describe each set that fails.

    The meta tests use it to show a grader catches a planted bug: at least one set must fail.
    """
    out = []
    for params in param_sets(test_fn) or [{}]:
        try:
            test_fn(**fixtures, **params)
        except Exception as e:  # noqa: BLE001  (AssertionError, or the engine refusing a wrong gradient)
            out.append(f"{test_fn.__name__}{params}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    return out


def planted(bug_id, owner, attr, bad, test_fn):
    """One planted bug for ``assert_grader_catches``: replace ``owner.attr`` (owner a class name of
    the solutions module, or None for a module-level function) by ``bad``; ``test_fn`` must fail."""
    return pytest.param(owner, attr, bad, test_fn, id=bug_id)


def assert_grader_catches(monkeypatch, solutions, owner, attr, bad, test_fn):
    """The grader passes the reference solutions, and fails them once ``bad`` is patched in."""
    assert not failures(test_fn, impl=solutions), f"{test_fn.__name__} must pass the unmodified reference solutions"
    monkeypatch.setattr(getattr(solutions, owner) if owner else solutions, attr, bad)
    assert failures(test_fn, impl=solutions), f"{test_fn.__name__} passed a planted bug in {owner or 'module'}.{attr}"
