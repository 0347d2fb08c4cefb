"""Checks for the lessons' "your turn" cells: each says what is right, or exactly what is wrong.

A notebook's exercise cell holds the learner's code (the reference answer is filled in, so the
notebook runs unattended); the next cell calls one of these. A wrong answer raises
``ExerciseError`` with a message that names the first thing to look at (a shape, an entry, an
input whose gradient disagrees with finite differences), not just "assertion failed".
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np

from .gradcheck import gradcheck
from .tensor import array_of


class ExerciseError(AssertionError):
    """A "your turn" answer that does not do what the exercise asks."""


def check_array(name, got, expected, atol=1e-6, rtol=1e-5, hint=""):
    """``got`` must equal ``expected`` (shape, then values within atol + rtol * |expected|)."""
    got, expected = np.asarray(array_of(got)), np.asarray(array_of(expected))  # Tensors, arrays or lists
    if got.shape != expected.shape:
        raise ExerciseError(f"{name}: shape {got.shape}, expected {expected.shape}. {hint}".strip())
    if expected.dtype == bool or got.dtype == bool:
        bad = np.argwhere(got != expected)
        if len(bad):
            i = tuple(int(v) for v in bad[0])
            raise ExerciseError(
                f"{name}: {len(bad)} of {got.size} entries differ; first at {i}: got {got[i]}, expected {expected[i]}. {hint}".strip()
            )
    else:
        g64, e64 = got.astype(np.float64), expected.astype(np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf: equal infinities are compared by ==
            err = np.abs(g64 - e64)
        tol = atol + rtol * np.abs(e64)
        ok = (g64 == e64) | (np.isfinite(e64) & (err <= tol))  # a NaN anywhere fails
        if not np.all(ok):
            with np.errstate(invalid="ignore"):
                excess = np.nan_to_num(err - tol, nan=np.inf)  # how far past the tolerance; NaN counts as worst
            i = np.unravel_index(int(np.argmax(np.where(ok, -np.inf, excess))), err.shape)
            raise ExerciseError(
                f"{name}: {int((~ok).sum())} of {got.size} entries are off; worst at {tuple(int(v) for v in i)}: "
                f"got {got[i]:.6g}, expected {expected[i]:.6g}. {hint}".strip()
            )
    print(f"correct: {name} matches ({got.shape})")


def check_gradient(name, fn, inputs, hint=""):
    """``fn(*inputs)``'s backward must agree with central finite differences (float64 inputs)."""
    report = gradcheck(fn, inputs)
    if not report.ok:
        bad = [r for r in report.inputs if not r.ok]
        lines = "; ".join(
            f"input {r.name} {r.shape}: worst at {r.worst_index}, backward gave {r.analytic:.6g}, "
            f"finite differences {r.numeric:.6g}"
            for r in bad
        )
        raise ExerciseError(f"{name}: the gradient is wrong for {lines}. {hint}".strip())
    print(f"correct: {name}'s gradient matches finite differences (max relative error {report.max_rel_err:.1e})")
    return report


def check(condition, message):
    """A plain condition with the explanation to show when it fails."""
    if not condition:
        raise ExerciseError(message)
    print("correct")


_HOST_READS = ("item", "tolist")  # methods that copy a device value to the host


def _root_name(node):
    """The name an attribute chain starts from: ``np`` for ``np.random.default_rng``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _host_problem(call):
    """Why ``call`` (an ast.Call) breaks one code path for NumPy and CuPy, or None."""
    f = call.func
    root = _root_name(f)
    if isinstance(f, ast.Attribute) and root in ("np", "numpy"):
        return f"calls {ast.unparse(f)}, which makes NumPy arrays even when the inputs are CuPy arrays"
    if isinstance(f, ast.Name) and f.id == "float":
        return "calls float(...), which copies a device value to the host and makes the CPU wait for the GPU"
    if isinstance(f, ast.Attribute) and (f.attr in _HOST_READS or (f.attr == "get" and not call.args)):
        return f"calls .{f.attr}(), which copies a device value to the host and makes the CPU wait for the GPU"
    return None


def _problem(node, branches, attribute_bases):
    if isinstance(node, ast.Call):
        return _host_problem(node)
    if isinstance(node, ast.Name) and node.id in ("np", "numpy") and id(node) not in attribute_bases:
        return "uses NumPy itself as a value (as in `xp = np`), so the code runs on NumPy whatever the input"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        if any(n.split(".")[0] == "numpy" for n in names):
            return "imports NumPy, whose functions make NumPy arrays whatever the input"
    if not branches and isinstance(node, (ast.If, ast.IfExp, ast.While)):
        return "branches on a value; on a GPU that value must first be copied to the host (decide with xp instead)"
    return None


def check_device_agnostic(name, fn, hint="", branches=True):
    """``fn`` must take its array module from its inputs: read from its source, so no GPU is needed.

    Refused: a call through ``np``/``numpy`` (``np.zeros(...)``, ``np.random.default_rng()``: NumPy
    arrays whatever the input), NumPy as a value (``xp = np``) or imported inside, and host reads (``float(...)``, ``.item()``, ``.tolist()``, CuPy's
    ``.get()``). A dtype such as ``np.float32`` is fine (CuPy takes NumPy dtypes). ``branches=False``
    also refuses every ``if``, ``while`` and ``a if c else b``: for code that must decide on the
    device (an ``if`` on a device value reads it back; one on a host value cannot be told apart by
    reading). The values are for ``check_array``; this checks only that the code would run on CuPy.
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError) as e:
        raise ExerciseError(f"{name}: cannot read its source ({e}); define it with `def` in a cell") from e
    nodes = sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset))
    bases = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}  # `np` in `np.float32` is fine
    problems = [(n.lineno, why) for n in nodes if (why := _problem(n, branches, bases))]
    if problems:
        line, why = problems[0]  # the first in reading order
        more = f" (and {len(problems) - 1} more such places)" if len(problems) > 1 else ""
        raise ExerciseError(
            f"{name}: line {line} `{source.splitlines()[line - 1].strip()}` {why}{more}; "
            f"take xp = get_array_module(<an input>) and use xp. {hint}".strip()
        )
    print(f"correct: {name} takes its array module from its inputs (no np. call, no host read)")


def check_power_law_fit(name, fit, n=None, loss=None, hint=""):
    """``fit(n, loss) -> (coef, exponent)`` must fit loss = coef * n^(-exponent) by least squares in log-log.

    Checked on an exact law (the exponent must come back to 1e-9, with its sign: a loss that
    falls with n has a positive exponent), then, if given, on measured ``n``, ``loss`` against a
    straight line fitted to log loss against log n.
    """
    x = np.logspace(3, 6, 7)
    got = fit(x, 2.5 * x**-0.3)
    if not (isinstance(got, tuple) and len(got) == 2):
        raise ExerciseError(f"{name}: return (coef, exponent), got {got!r}")
    coef, exponent = (float(v) for v in got)
    if abs(exponent + 0.3) < 1e-6:
        raise ExerciseError(f"{name}: exponent -0.3 for loss = 2.5 n^-0.3: the exponent of n^(-alpha) is alpha > 0")
    if abs(exponent - 0.3) > 1e-9 or abs(coef - 2.5) > 1e-9 * 2.5:
        raise ExerciseError(
            f"{name}: on loss = 2.5 n^-0.3 (exact) it gives coef {coef:.6g}, exponent {exponent:.6g}; "
            f"a power law is a straight line in log loss against log n. {hint}".strip()
        )
    if n is not None:
        slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
        coef, exponent = (float(v) for v in fit(np.asarray(n), np.asarray(loss)))
        if abs(exponent + slope) > 1e-6 * max(1.0, abs(slope)) or abs(coef - np.exp(intercept)) > 1e-6 * np.exp(
            intercept
        ):
            raise ExerciseError(
                f"{name}: on the sweep's points it gives coef {coef:.6g}, exponent {exponent:.6g}; "
                f"the least-squares line in log-log gives {np.exp(intercept):.6g}, {-slope:.6g}. {hint}".strip()
            )
    print(f"correct: {name} recovers loss = 2.5 n^-0.3 and fits the sweep's points (exponent {exponent:.4f})")
