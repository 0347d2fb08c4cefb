"""Grader of assignment 2 (gradient checking).

    pytest lessons/a02_gradient_checking --lesson-impl=exercises    # grade your exercises.py

Your checker must agree with ``npgpt.gradcheck``: pass correct npgpt ops, and flag ops whose
backward has a planted bug (defined below) with the same relative error npgpt reports.
"""

import math

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from lessons.grading import t64
from npgpt.autograd import Function
from npgpt.gradcheck import verdict as npgpt_verdict

# ------------------------------------------------------------------------ numerical_gradient
# f(x) -> float with its exact gradient
KNOWN = {
    "cube": (lambda x: float((x**3).sum()), lambda x: 3 * x**2),
    "sin": (lambda x: float(np.sin(x).sum()), lambda x: np.cos(x)),
    "quadratic-form": (
        lambda x: float(x.reshape(-1) @ _A @ x.reshape(-1)),
        lambda x: ((_A + _A.T) @ x.reshape(-1)).reshape(x.shape),
    ),
    "logsumexp": (lambda x: float(np.log(np.exp(x).sum())), lambda x: np.exp(x) / np.exp(x).sum()),
}
_A = np.random.default_rng(5).standard_normal((12, 12))


@pytest.mark.parametrize("shape", [(12,), (3, 4), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("name", list(KNOWN))
def test_numerical_gradient_of_known_functions(impl, name, shape):
    f, grad = KNOWN[name]
    x = np.random.default_rng(1).standard_normal(shape)
    got = impl.numerical_gradient(f, x)
    assert isinstance(got, np.ndarray) and got.shape == x.shape, f"expected an array of shape {x.shape}"
    np.testing.assert_allclose(got, grad(x), rtol=1e-6, atol=1e-8, err_msg=f"numerical gradient of {name}")


def test_numerical_gradient_of_a_0d_array(impl):
    x = np.array(0.3)
    got = impl.numerical_gradient(lambda v: float(np.sin(v)), x)
    assert np.shape(got) == (), f"a 0-d input has a 0-d gradient, got shape {np.shape(got)}"
    assert math.isclose(float(got), math.cos(0.3), rel_tol=1e-8)


def test_numerical_gradient_is_central(impl):
    # with a large step the one-sided difference is off by ~ (eps/2) f'' = 3 x eps ~ 3e-3,
    # the central one by (eps^2 / 6) f''' = 1e-6
    x = np.linspace(0.5, 1.5, 5)
    got = impl.numerical_gradient(lambda v: float((v**3).sum()), x, eps=1e-3)
    np.testing.assert_allclose(got, 3 * x**2, atol=2e-6, err_msg="use (f(x+h) - f(x-h)) / 2h, not (f(x+h) - f(x)) / h")


def test_numerical_gradient_restores_the_input(impl):
    x = np.random.default_rng(2).standard_normal((3, 4))
    before = x.copy()
    impl.numerical_gradient(lambda v: float((v**2).sum()), x, eps=0.1)
    assert np.array_equal(x, before), "x must be exactly as it was after the check"


def test_numerical_gradient_perturbs_the_array_it_was_given(impl):
    # f reads x through a closure, the way check_gradients' loss reads a tensor's data
    x = np.random.default_rng(3).standard_normal(5)
    got = impl.numerical_gradient(lambda _: float((x**2).sum()), x)
    np.testing.assert_allclose(got, 2 * x, rtol=1e-6)


# ------------------------------------------------------------------------ relative_error, verdict
def _reference_rel(a, n, floor=1e-6):
    a, n = np.asarray(a, float), np.asarray(n, float)
    scale = np.maximum(np.abs(a), np.abs(n))
    return float(np.where(scale > floor, np.abs(a - n) / np.maximum(scale, floor), 0).max(initial=0.0))


REL_CASES = {
    "equal": ([1.0, -2.0], [1.0, -2.0]),
    "tiny-difference": ([1.0, 2.0], [1.0 + 1e-9, 2.0]),
    "opposite-signs": ([1.0], [-1.0]),
    "one-zero": ([0.0, 3.0], [0.5, 3.0]),
    "below-floor": ([1e-9, 5.0], [3e-9, 5.0]),  # would be 0.67 without the floor
    "mixed-2d": (np.arange(6.0).reshape(2, 3) - 2.5, (np.arange(6.0).reshape(2, 3) - 2.5) * (1 + 1e-4)),
    "zeros": ([0.0, 0.0], [0.0, 0.0]),
}


@pytest.mark.parametrize("name", list(REL_CASES))
def test_relative_error(impl, name):
    a, n = (np.asarray(v, dtype=np.float64) for v in REL_CASES[name])
    got = impl.relative_error(a, n)
    assert isinstance(got, float), f"return a Python float, got {type(got).__name__}"
    assert math.isclose(got, _reference_rel(a, n), rel_tol=1e-9, abs_tol=1e-15), (
        f"{name}: {got} != {_reference_rel(a, n)}"
    )
    assert math.isclose(impl.relative_error(n, a), got, rel_tol=1e-12, abs_tol=1e-15), "it must be symmetric"


@pytest.mark.parametrize(
    "rel", [0.0, 1e-12, 1e-7, 1.5e-7, 3e-5, 1e-4, 1.01e-4, 5e-3, 1e-2, 0.0101, 0.5, 2.0, float("inf"), float("nan")]
)
def test_verdict(impl, rel):
    assert impl.verdict(rel) == npgpt_verdict(rel), f"verdict({rel})"


# ------------------------------------------------------------------------ check_gradients
CORRECT = {
    "tanh": (lambda x: x.tanh(), lambda: [t64((3, 4), 1)]),
    "mul-broadcast": (lambda a, b: a * b, lambda: [t64((3, 4), 1), t64((4,), 2)]),
    "matmul": (lambda a, b: a @ b, lambda: [t64((2, 3), 1), t64((3, 4), 2)]),
    "softmax": (lambda x: x.softmax(axis=-1), lambda: [t64((2, 5), 3)]),
    "layer-norm": (lambda x, w, b: F.layer_norm(x, w, b), lambda: [t64((3, 5), 4), t64((5,), 5), t64((5,), 6)]),
    "sum-axis": (lambda x: x.sum(axis=0), lambda: [t64((3, 4), 7)]),
    "constant-input": (lambda x, c: x * c, lambda: [t64((3,), 8), t64((3,), 9, requires_grad=False)]),
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_check_gradients_passes_correct_ops(impl, name):
    fn, make = CORRECT[name]
    inputs = make()
    errs = impl.check_gradients(fn, inputs)
    n_checked = sum(t.requires_grad for t in inputs)
    assert len(errs) == n_checked, f"one relative error per input that requires grad ({n_checked}), got {len(errs)}"
    assert npgpt.gradcheck(fn, inputs).ok, "npgpt agrees this op is correct"
    for i, e in enumerate(errs):
        assert e < 1e-6, f"{name}: your check reports relative error {e:.2e} for input {i} of a correct op"


def test_check_gradients_leaves_inputs_unchanged(impl):
    x = t64((3, 4), 1)
    before = x.data.copy()
    impl.check_gradients(lambda a: a.exp(), [x])
    assert np.array_equal(x.data, before)


# ops with planted bugs, each with a correct forward
class SquareMissingTwo(Function):
    """y = x^2 with dx = g * x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)


class ExpRightOnlyForOnes(Function):
    """y = e^x with dx = y * mean(g): right when g is all ones, wrong for any other upstream gradient."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (y * g.mean(),)


class MatMulMissingTranspose(Function):
    """Z = A @ B for square matrices with dA = g @ B (should be g @ B^T); dB is right."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b, a.T @ g


BUGGY = {
    "square-missing-2": (SquareMissingTwo.apply, lambda: [t64((3, 4), 1)]),
    "exp-right-only-for-ones": (ExpRightOnlyForOnes.apply, lambda: [t64((3, 4), 2)]),
    "matmul-missing-transpose": (MatMulMissingTranspose.apply, lambda: [t64((3, 3), 3), t64((3, 3), 4)]),
}


@pytest.mark.parametrize("name", list(BUGGY))
def test_check_gradients_catches_planted_bugs(impl, name):
    fn, make = BUGGY[name]
    inputs = make()
    errs = impl.check_gradients(fn, inputs)
    report = npgpt.gradcheck(fn, inputs)
    assert not report.ok, f"npgpt itself flags {name}:\n{report}"
    worst = max(errs)
    assert impl.verdict(worst) == "wrong", f"{name}: your check reports {worst:.2e}, which should read as 'wrong'"
    for i, (mine, theirs) in enumerate(zip(errs, report.inputs)):
        # same random upstream gradient and the same formula: the same numbers as npgpt's report
        assert math.isclose(mine, theirs.max_rel_err, rel_tol=1e-4, abs_tol=1e-7), (
            f"{name}, input {i}: your relative error {mine:.6e}, npgpt's {theirs.max_rel_err:.6e}\n{report}"
        )
