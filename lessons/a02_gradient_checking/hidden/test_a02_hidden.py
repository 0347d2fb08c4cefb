"""Instructor-only tests of assignment 2 (never handed out; ``python -m lessons.grade --hidden``).

They probe what the handed-out tests leave open: another step size, arrays of ones in every
axis, lists as inputs, a scalar (0-d) output and another seed.
"""

import math

import numpy as np
import pytest

import npgpt
from lessons.a02_gradient_checking import checker
from npgpt.autograd import Function


@pytest.mark.task("2.1", points=1)
def test_hidden_other_step_and_unit_axes():
    x = np.array([[[0.7]]])
    got = checker.numerical_gradient(lambda v: float(np.exp(v).sum()), x, eps=1e-4)
    assert got.shape == (1, 1, 1) and math.isclose(float(got[0, 0, 0]), math.exp(0.7), rel_tol=1e-8)


@pytest.mark.task("2.2", points=1)
def test_hidden_lists_and_a_custom_floor():
    assert math.isclose(checker.relative_error([2.0, 0.5], [1.0, 0.5]), 0.5)
    assert checker.relative_error([1e-4, 1.0], [3e-4, 1.0], floor=1e-3) == 0.0


@pytest.mark.task("2.3", points=1)
def test_hidden_numpy_scalars():
    words = [checker.verdict(t(v)) for t in (np.float64, np.float32) for v in (5e-8, 5e-5, 5e-3, 0.5)]
    assert words == ["good", "acceptable", "suspicious", "wrong"] * 2, f"verdicts of NumPy floats: {words}"


class SumOfSquares(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.asarray((x * x).sum())

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (2 * g * x,)


def _central(f, x, eps=1e-6):
    out = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        keep = float(x[i])
        x[i] = keep + eps
        up = f(x)
        x[i] = keep - eps
        out[i] = (up - f(x)) / (2 * eps)
        x[i] = keep
    return out


def _relative(a, n, floor=1e-6):
    a, n = np.asarray(a, float), np.asarray(n, float)
    big = np.maximum(np.abs(a), np.abs(n))
    return float(np.max(np.where(big > floor, np.abs(a - n) / np.where(big > floor, big, 1.0), 0.0), initial=0.0))


@pytest.mark.task("2.4", points=1)
def test_hidden_scalar_output_and_another_seed(monkeypatch):
    monkeypatch.setattr(checker, "numerical_gradient", _central)  # graded on its own, as in the grader
    monkeypatch.setattr(checker, "relative_error", _relative)
    x = npgpt.tensor(np.random.default_rng(23).standard_normal((3, 2)), requires_grad=True)
    errs = checker.check_gradients(SumOfSquares.apply, [x], seed=3)
    assert len(errs) == 1 and errs[0] < 1e-6, f"a correct op with a 0-d output: {errs}"
