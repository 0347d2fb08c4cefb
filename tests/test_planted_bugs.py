"""The checker can fail: ops with deliberately wrong backwards must be caught.

A gradient check that never fails proves nothing. Each op below has a correct forward and a
backward with a typical mistake; ``npgpt.gradcheck`` must report it as not ok (or the engine must
refuse a gradient of the wrong shape with a clear error). Being defined in this test module, these
classes stay out of ``npgpt.gradcheck_cases.all_functions()``.
"""

import numpy as np
import pytest

import npgpt
from npgpt.autograd import Function
from npgpt.gradcheck_cases import all_functions
from npgpt.ops.broadcast import unbroadcast


def t64(shape, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return npgpt.tensor(a, requires_grad=True)


class MatMulNoTranspose(Function):
    """Z = A @ B with dA = dZ @ B (should be dZ @ B^T) and dB = A @ dZ (should be A^T @ dZ)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g @ b, a @ g


class AddNoUnbroadcast(Function):
    """z = a + b returning g for both inputs: b (4,) broadcast to (3, 4) gets a (3, 4) gradient."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class AddMeanInsteadOfSum(Function):
    """z = a + b reducing the broadcast axes with a mean: right shape, wrong values."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g.mean(axis=0, keepdims=True).reshape(ctx.shape_b)


class AddSumWrongAxis(Function):
    """z = a + b for b (1, 4): sums over the wrong axis, then reshapes it to fit."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return a + b

    @staticmethod
    def backward(ctx, g):  # g (4, 4): axis 1 summed instead of axis 0, shapes match by accident
        return g, g.sum(axis=1).reshape(ctx.shape_b)


class SquareMissingTwo(Function):
    """y = x^2 with dy/dx = x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)


class ExpOnlyForOnes(Function):
    """y = e^x with dx = y * sum(g) / n: exact when g is all ones (loss = y.sum()), wrong otherwise."""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (y * (g.sum() / g.size),)


class SumOnlyForOnes(Function):
    """y = sum(x, axis=0) with dx = ones * mean(g): right for an all-ones g only."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(axis=0)

    @staticmethod
    def backward(ctx, g):
        return (np.full(ctx.shape, g.mean()),)


class SoftmaxNoSubtraction(Function):
    """y = softmax(x) with dx = y * g (missing '- sum(g * y)')."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (g * y,)


class LayerNormNoMeanTerm(Function):
    """y = (x - mean) / std with dx = rstd * (g - xhat * mean(g * xhat)) (missing '- mean(g)')."""

    @staticmethod
    def forward(ctx, x):
        xc = x - x.mean(axis=-1, keepdims=True)
        rstd = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + 1e-5)
        ctx.save_for_backward(xc * rstd, rstd)
        return xc * rstd

    @staticmethod
    def backward(ctx, g):
        xhat, rstd = ctx.saved_tensors
        return (rstd * (g - xhat * (g * xhat).mean(axis=-1, keepdims=True)),)


class MulCorrect(Function):
    """A correct op, as a control: the same harness must pass it."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)


WRONG = [
    pytest.param(MatMulNoTranspose, lambda: [t64((3, 3), 1), t64((3, 3), 2)], id="matmul-missing-transpose"),
    pytest.param(AddMeanInsteadOfSum, lambda: [t64((3, 4), 1), t64((1, 4), 2)], id="broadcast-mean-not-sum"),
    pytest.param(AddSumWrongAxis, lambda: [t64((4, 4), 1), t64((1, 4), 2)], id="broadcast-sum-wrong-axis"),
    pytest.param(SquareMissingTwo, lambda: [t64((3, 4))], id="square-missing-factor-2"),
    pytest.param(ExpOnlyForOnes, lambda: [t64((3, 4))], id="exp-right-only-for-ones"),
    pytest.param(SumOnlyForOnes, lambda: [t64((3, 4))], id="sum-right-only-for-ones"),
    pytest.param(SoftmaxNoSubtraction, lambda: [t64((3, 5))], id="softmax-missing-subtraction"),
    pytest.param(LayerNormNoMeanTerm, lambda: [t64((3, 5))], id="layernorm-missing-mean-term"),
]


@pytest.mark.parametrize("op, make", WRONG)
def test_planted_bug_is_reported(op, make):
    report = npgpt.gradcheck(op.apply, make())
    assert not report.ok, f"{op.__name__}: a wrong backward passed the gradient check\n{report}"
    assert report.verdict == "wrong"
    assert "FAILED" in str(report)


def test_correct_control_passes():
    report = npgpt.gradcheck(MulCorrect.apply, [t64((3, 4), 1), t64((4,), 2)])
    assert report.ok and report.verdict == "good", report


def test_matmul_missing_transpose_non_square_is_a_shape_error():
    with pytest.raises(ValueError, match="matmul"):
        npgpt.gradcheck(MatMulNoTranspose.apply, [t64((3, 4), 1), t64((4, 5), 2)])


def test_missing_unbroadcast_is_a_clear_shape_error():
    with pytest.raises(RuntimeError, match=r"AddNoUnbroadcast.backward.*shape \(3, 4\).*input 1 of shape \(4,\)"):
        npgpt.gradcheck(AddNoUnbroadcast.apply, [t64((3, 4), 1), t64((4,), 2)])


@pytest.mark.parametrize("op", [ExpOnlyForOnes, SumOnlyForOnes])
def test_all_ones_upstream_would_have_hidden_the_bug(op):
    # why gradcheck uses a random upstream gradient: with loss = out.sum() the bug is invisible
    x = t64((3, 4))
    op.apply(x).sum().backward()
    bad_with_ones = x.grad.copy()
    x.grad = None
    ref = {ExpOnlyForOnes: lambda a: a.exp(), SumOnlyForOnes: lambda a: a.sum(axis=0)}[op]
    ref(x).sum().backward()
    np.testing.assert_allclose(bad_with_ones, x.grad, rtol=1e-12)
    assert not npgpt.gradcheck(op.apply, [x]).ok


def test_planted_ops_stay_out_of_the_registry():
    planted = {
        MatMulNoTranspose,
        AddNoUnbroadcast,
        AddMeanInsteadOfSum,
        AddSumWrongAxis,
        SquareMissingTwo,
        ExpOnlyForOnes,
        SumOnlyForOnes,
        SoftmaxNoSubtraction,
        LayerNormNoMeanTerm,
        MulCorrect,
    }
    assert planted <= set(Function.__subclasses__())  # they are real Functions ...
    registry = set(all_functions())
    assert not planted & registry  # ... that all_functions() does not list
    assert all(f.__module__.startswith("npgpt.") for f in registry)
