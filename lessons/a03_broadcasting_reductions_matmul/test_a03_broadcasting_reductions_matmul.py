"""Grader of assignment 3 (broadcasting, reductions, matmul).

    pytest lessons/a03_broadcasting_reductions_matmul --lesson-impl=exercises

Gradients are checked with ``npgpt.gradcheck`` (float64 central differences, random upstream
gradient); ``unbroadcast`` and the tie rule of max are compared with npgpt's own.
"""

import numpy as np
import pytest

import npgpt
from lessons.grading import assert_close, assert_gradcheck, backward, distinct64, t64
from npgpt.ops.broadcast import unbroadcast as npgpt_unbroadcast

# (broadcast result's shape, input shape)
UNBROADCAST = [
    ((3, 4), (3, 4)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (3, 1)),
    ((3, 5), (1, 5)),
    ((3, 5), (3, 1)),
    ((2, 3), ()),
    ((4, 3, 5), (1, 3, 1)),
    ((2, 1, 4), (1, 1)),
    ((2, 3, 4), (2, 1, 4)),
    ((5,), (1,)),
]


@pytest.mark.parametrize("grad_shape, shape", UNBROADCAST, ids=[f"{g}->{s}" for g, s in UNBROADCAST])
def test_unbroadcast(impl, grad_shape, shape):
    g = np.random.default_rng(0).standard_normal(grad_shape)
    got = impl.unbroadcast(g.copy(), shape)
    assert_close(np.asarray(got), np.asarray(npgpt_unbroadcast(g, shape)), f"unbroadcast {grad_shape} -> {shape}")


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((2, 3, 4), (4,)),
    ((3, 1), (1, 5)),
    ((1, 4), (3, 1, 4)),
    ((), (2, 3)),
    ((2, 3, 4), (2, 1, 4)),
]


@pytest.mark.parametrize("sa, sb", BROADCAST_PAIRS, ids=[f"{a}*{b}" for a, b in BROADCAST_PAIRS])
def test_mul_broadcast_gradcheck(impl, sa, sb):
    assert_gradcheck(impl.Mul.apply, [t64(sa, 1, name="a"), t64(sb, 2, name="b")], what=f"Mul {sa} * {sb}")


AXES = [None, 0, -1, 1, (0, 2), (-1, -2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("op", ["Sum", "Mean", "Max"])
def test_reduction_gradcheck(impl, op, axis, keepdims):
    x = distinct64((2, 3, 4), seed=1)  # distinct values: max has a unique winner in every group
    fn = getattr(impl, op).apply
    assert_gradcheck(lambda x: fn(x, axis=axis, keepdims=keepdims), [x], what=f"{op}(axis={axis}, keepdims={keepdims})")


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max"])
def test_reduction_of_a_scalar(impl, op):
    assert_gradcheck(lambda x: getattr(impl, op).apply(x), [t64((), 1)], what=f"{op} of a 0-d tensor")


TIES = [
    ("row-ties", np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), 1),
    ("column-ties", np.array([[5.0, 0.0], [5.0, 1.0], [-1.0, 1.0]]), 0),
    ("all", np.array([[4.0, 4.0], [1.0, 4.0]]), None),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name, x, axis", TIES, ids=[t[0] for t in TIES])
def test_max_splits_ties_equally(impl, name, x, axis, keepdims):
    # a kink: finite differences mean nothing here, so compare with npgpt's rule, g / (number of maxima)
    mine, ref = npgpt.tensor(x, requires_grad=True), npgpt.tensor(x, requires_grad=True)
    out = impl.Max.apply(mine, axis=axis, keepdims=keepdims)
    g = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(g)
    ref.max(axis=axis, keepdims=keepdims).backward(g)
    assert_close(mine.grad, ref.grad, f"Max backward with ties ({name})")
    np.testing.assert_allclose(
        mine.grad.sum(), g.sum(), err_msg="the tied maxima must share g, not each take all of it"
    )


MATMUL = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((4, 5), (2, 5, 3)),
    ((1, 3, 4), (2, 4, 2)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("sa, sb", MATMUL, ids=[f"{a}@{b}" for a, b in MATMUL])
def test_matmul_gradcheck(impl, sa, sb):
    assert_gradcheck(impl.MatMul.apply, [t64(sa, 1, name="A"), t64(sb, 2, name="B")], what=f"MatMul {sa} @ {sb}")


def test_matmul_square_catches_a_missing_transpose(impl):
    # square matrices: a missing transpose still has the right shape, only the values tell
    assert_gradcheck(impl.MatMul.apply, [t64((3, 3), 1, name="A"), t64((3, 3), 2, name="B")], what="MatMul (3,3)@(3,3)")


def test_ops_compose(impl):
    # a tiny layer: mean over the batch of max over features of (x @ W) * s
    x, w, s = t64((4, 3), 1, name="x"), t64((3, 5), 2, name="W"), t64((5,), 3, name="s")

    def layer(x, w, s):
        return impl.Mean.apply(impl.Max.apply(impl.Mul.apply(impl.MatMul.apply(x, w), s), axis=-1))

    assert_gradcheck(layer, [x, w, s], what="Mean(Max(MatMul(x, W) * s))")


def test_float32_gradients_stay_float32(impl):
    # npgpt refuses a gradient whose dtype differs from its input's: no silent float64 upcasts
    x = npgpt.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 1.0]], dtype=np.float32), requires_grad=True)
    w = npgpt.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    two = npgpt.tensor(np.float32(2.0))
    out = impl.Mean.apply(impl.Max.apply(x, axis=1)) + impl.Sum.apply(impl.Mul.apply(impl.MatMul.apply(x, w), two))
    backward(out, what="float32 gradients")
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
