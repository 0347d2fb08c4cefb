"""Meta tests of assignment 2: the handout is unsolved, and its grader catches typical mistakes."""

import numpy as np
import pytest

from lessons.a02_gradient_checking import exercises
from lessons.a02_gradient_checking import test_a02_gradient_checking as grader
from lessons.grading import meta_tests, planted, t64

solutions = pytest.importorskip(
    "lessons.a02_gradient_checking.solutions", reason="solutions.py removed (student handout)"
)

STUB_CALLS = {
    "numerical_gradient": lambda m: m.numerical_gradient(lambda v: float(v.sum()), np.zeros(3)),
    "relative_error": lambda m: m.relative_error(np.ones(2), np.ones(2)),
    "verdict": lambda m: m.verdict(0.5),
    "check_gradients": lambda m: m.check_gradients(lambda x: x.tanh(), [t64((2,), 1)]),
}


# ----------------------------------------------------------------------------------- planted bugs
def _one_sided(f, x, eps=1e-6):
    g, flat = np.zeros(x.shape), x.reshape(-1)
    f0 = f(x)
    for i in range(flat.size):
        orig = flat[i].item()
        flat[i] = orig + eps
        g.reshape(-1)[i] = (f(x) - f0) / eps
        flat[i] = orig
    return g


def _not_restoring(f, x, eps=1e-6):
    g, flat = np.zeros(x.shape), x.reshape(-1)
    for i in range(flat.size):
        flat[i] += eps
        fp = f(x)
        flat[i] -= 2 * eps
        g.reshape(-1)[i] = (fp - f(x)) / (2 * eps)
        flat[i] += eps * 1.001  # off by a little: x drifts
    return g


_reference_numerical_gradient = solutions.numerical_gradient  # captured before any patching


def _perturbs_a_copy(f, x, eps=1e-6):
    return _reference_numerical_gradient(f, x.copy(), eps)


def _no_floor(a, n, floor=1e-6):
    a, n = np.asarray(a, float), np.asarray(n, float)
    scale = np.maximum(np.abs(a), np.abs(n))
    return float(np.where(scale > 0, np.abs(a - n) / np.where(scale > 0, scale, 1), 0).max(initial=0))


def _mean_not_max(a, n, floor=1e-6):
    a, n = np.asarray(a, float), np.asarray(n, float)
    scale = np.maximum(np.abs(a), np.abs(n))
    return float(np.where(scale > floor, np.abs(a - n) / np.maximum(scale, floor), 0).mean())


def _strict_bounds(rel):
    for bound, word in [(1e-7, "good"), (1e-4, "acceptable"), (1e-2, "suspicious")]:
        if rel < bound:
            return word
    return "wrong"


def _nan_is_good(rel):
    return "wrong" if rel > 1e-2 else "suspicious" if rel > 1e-4 else "acceptable" if rel > 1e-7 else "good"


def _upstream_all_ones(fn, inputs, eps=1e-6, seed=0):
    """Checks L = sum(fn(x)) only: blind to a backward that is right only for an all-ones gradient."""
    out = fn(*inputs)
    checked = [t for t in inputs if t.requires_grad]
    for t in checked:
        t.grad = None
    out.backward(np.ones(out.shape))

    def loss(_):
        with solutions.no_grad():
            return float(fn(*inputs).data.sum())

    return [solutions.relative_error(t.grad, solutions.numerical_gradient(loss, t.data, eps)) for t in checked]


PLANTED = [
    planted("one-sided-difference", None, "numerical_gradient", _one_sided, grader.test_numerical_gradient_is_central),
    planted(
        "input-not-restored",
        None,
        "numerical_gradient",
        _not_restoring,
        grader.test_numerical_gradient_restores_the_input,
    ),
    planted(
        "perturbs-a-copy",
        None,
        "numerical_gradient",
        _perturbs_a_copy,
        grader.test_numerical_gradient_perturbs_the_array_it_was_given,
    ),
    planted("relative-error-without-floor", None, "relative_error", _no_floor, grader.test_relative_error),
    planted("relative-error-mean-not-max", None, "relative_error", _mean_not_max, grader.test_relative_error),
    planted("verdict-strict-bounds", None, "verdict", _strict_bounds, grader.test_verdict),
    planted("verdict-nan-is-good", None, "verdict", _nan_is_good, grader.test_verdict),
    planted(
        "upstream-all-ones",
        None,
        "check_gradients",
        _upstream_all_ones,
        grader.test_check_gradients_catches_planted_bugs,
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
