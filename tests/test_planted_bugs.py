"""The checker can fail: ops with deliberately wrong backwards must be caught.

A gradient check that never fails proves nothing. Each op of planted_ops.py has a correct forward
and a backward with a typical mistake; ``npgpt.gradcheck`` must report it as not ok (or the engine
must refuse a gradient of the wrong shape with a clear error). Being defined outside npgpt, these
classes stay out of ``npgpt.gradcheck_cases.all_functions()``.
"""

import numpy as np
import pytest
from planted_ops import (
    AddMeanInsteadOfSum,
    AddNoUnbroadcast,
    AddSumWrongAxis,
    ExpOnlyForOnes,
    LayerNormNoMeanTerm,
    MatMulNoTranspose,
    MulCorrect,
    SoftmaxNoSubtraction,
    SquareMissingTwo,
    SumOnlyForOnes,
)

import npgpt
from npgpt.autograd import Function
from npgpt.gradcheck_cases import all_functions


def t64(shape, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return npgpt.tensor(a, requires_grad=True)


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
