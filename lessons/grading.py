"""Helpers shared by the assignment graders (``lessons/aNN_*/test_aNN_*.py``) and the meta tests.

Which implementation a grader tests is chosen by ``--lesson-impl=solutions|exercises`` (or the
environment variable ``NPGPT_LESSON_IMPL``); ``lessons/conftest.py`` turns that choice into the
``impl`` fixture, the imported module ``lessons.<assignment>.<solutions|exercises>``.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import itertools
import os
from pathlib import Path

import numpy as np
import pytest

import npgpt
from npgpt.autograd import Context

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


_NPGPT_DIR = Path(npgpt.__file__).resolve().parent


@contextlib.contextmanager
def engine_refusal_fails(what=""):
    """Turn npgpt's refusal of a gradient (a RuntimeError raised by the engine, e.g. "Mul.backward
    returned a gradient of shape (2, 3) for input 1 of shape (3,)") into a failed check of ``what``.
    An error raised in the code under test itself propagates unchanged."""
    try:
        yield
    except RuntimeError as e:
        tb = e.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        if not Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_NPGPT_DIR):
            raise
        pytest.fail(f"{what or 'backward'}: npgpt refused the gradient your backward returned: {e}")


def backward(out, grad=None, what=""):
    """``out.backward(grad)``, where npgpt refusing a gradient fails the check (see above)."""
    with engine_refusal_fails(what):
        out.backward(grad)


def assert_gradcheck(fn, inputs, what="", **kwargs):
    """``npgpt.gradcheck`` in float64; on failure the message holds the full report table."""
    with engine_refusal_fails(what):
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


def _code_of(plant):
    """The code object of a planted function (plain, staticmethod or lambda)."""
    return getattr(getattr(plant, "__func__", plant), "__code__", None)


def _raised_inside(exc, code) -> bool:
    """Whether ``exc`` was raised while ``code`` (the plant) was running: a frame of its traceback."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


def _first_line(e):
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def outcomes(test_fn, plant=None, **fixtures) -> dict[str, list[str]]:
    """Run a grader test over all its parameter sets and sort the sets that did not pass.

    - "caught": a grader's assertion failed (AssertionError, or ``pytest.fail``): the grader judged
      the implementation and said no;
    - "broken": an exception was raised inside ``plant`` itself (e.g. a plant that calls itself
      forever): the grader never got to judge anything, the planted bug is wrong;
    - "errors": any other exception (e.g. the engine refusing a gradient of the wrong shape).
    """
    found = {"caught": [], "broken": [], "errors": []}
    code = _code_of(plant)
    for params in param_sets(test_fn) or [{}]:
        where = f"{test_fn.__name__}{params}"
        try:
            test_fn(**fixtures, **params)
        except (AssertionError, pytest.fail.Exception) as e:
            kind = "broken" if code is not None and _raised_inside(e, code) else "caught"
            found[kind].append(f"{where}: {_first_line(e)}")
        except Exception as e:  # noqa: BLE001  (sorted, then reported by the caller)
            kind = "broken" if code is not None and _raised_inside(e, code) else "errors"
            found[kind].append(f"{where}: {_first_line(e)}")
    return found


def planted(bug_id, owner, attr, bad, test_fn):
    """One planted bug for ``assert_grader_catches``: replace ``owner.attr`` (owner a class name of
    the solutions module, or None for a module-level function) by ``bad``; ``test_fn`` must fail."""
    return pytest.param(owner, attr, bad, test_fn, id=bug_id)


def assert_grader_catches(monkeypatch, solutions, owner, attr, bad, test_fn):
    """The grader passes the reference solutions, and a failed assertion rejects them once ``bad``
    is patched in; a plant that crashes by itself is reported as broken, never counted as caught."""
    clean = outcomes(test_fn, impl=solutions)
    assert not any(clean.values()), f"{test_fn.__name__} must pass the unmodified reference solutions: {clean}"
    monkeypatch.setattr(getattr(solutions, owner) if owner else solutions, attr, bad)
    got = outcomes(test_fn, plant=bad, impl=solutions)
    where = f"{owner + '.' if owner else ''}{attr}"
    assert not got["broken"], f"the planted bug in {where} is broken: it crashed by itself, {got['broken']}"
    assert got["caught"], f"{test_fn.__name__} passed a planted bug in {where}" + (
        f" (no assertion failed; only errors: {got['errors']})" if got["errors"] else ""
    )


def meta_tests(exercises, solutions, stub_calls, planted_bugs):
    """The meta tests of one assignment, for its ``lessons/meta/test_aNN_*_meta.py`` to bind::

        test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
            meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
        )

    ``stub_calls``: {stub name: call(module)}, one call per TODO stub of ``exercises.py`` (it must
    raise NotImplementedError there and run in ``solutions``); ``planted_bugs``: ``planted(...)``
    params, each caught by a failed assertion of its grader test.
    """

    def test_stub_list_is_complete():
        assert sorted(stub_calls) == sorted(stub_names(exercises.__file__))

    @pytest.mark.parametrize("stub", list(stub_calls))
    def test_stub_raises_in_exercises_and_runs_in_solutions(stub):
        with pytest.raises(NotImplementedError, match="TODO"):
            stub_calls[stub](exercises)
        stub_calls[stub](solutions)

    @pytest.mark.parametrize("owner, attr, bad, test_fn", planted_bugs)
    def test_grader_catches_planted_bug(monkeypatch, owner, attr, bad, test_fn):
        assert_grader_catches(monkeypatch, solutions, owner, attr, bad, test_fn)

    return (
        test_stub_list_is_complete,
        test_stub_raises_in_exercises_and_runs_in_solutions,
        test_grader_catches_planted_bug,
    )


# ----------------------------------------------------------------------------- graders of regions
def call_backward(fn_cls, saved, g, needs_input_grad, **attrs):
    """``fn_cls.backward`` on values the grader computed itself (so a backward task is graded on
    its own, whatever the student's forward does): a context holding ``saved`` and ``attrs``."""
    ctx = Context()
    ctx.save_for_backward(*saved)
    ctx.needs_input_grad = tuple(needs_input_grad)
    for k, v in attrs.items():
        setattr(ctx, k, v)
    return fn_cls.backward(ctx, g)


def numerical_vjp(f, x, g, h=1e-6):
    """sum(g * df/dx) by central differences in float64: the gradient of <g, f(x)> with respect to x."""
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = np.sum(g * f(x))
        x[i] = old - h
        down = np.sum(g * f(x))
        x[i] = old
        out[i] = (up - down) / (2 * h)
    return out
