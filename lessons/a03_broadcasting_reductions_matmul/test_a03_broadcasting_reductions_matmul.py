"""Grader of assignment 3: 3.1 unbroadcast, 3.2 sum and mean backward, 3.3 max backward (ties),
3.4 matmul and linear backward.

    python -m lessons.grade --assignment a03        # points per task
    pytest lessons/a03_broadcasting_reductions_matmul --task 3.4

Every backward is called directly on values computed here (``call_backward``) and compared with
central finite differences, in float64, of the grader's own NumPy forward; the tie rule of max (a
kink, where finite differences mean nothing) is written out here. Each task is graded on its own:
the tests of 3.3 and 3.4 put the grader's own ``_expand`` and ``unbroadcast`` in place of tasks 3.2
and 3.1, so a mistake there costs those tasks' points only.
"""

import numpy as np
import pytest

import npgpt.ops.matmul as matmul_module
import npgpt.ops.reduce as reduce_module
from lessons.expected import Expected
from lessons.finite_differences import numerical_vjp
from lessons.grading import assert_close, call_backward
from npgpt.ops.broadcast import unbroadcast
from npgpt.ops.matmul import Linear, MatMul
from npgpt.ops.reduce import Max, Mean, Sum

expected = Expected(__file__)


# ----------------------------------------------------------------------------- the grader's helpers
def unbroadcast_by_differences(grad, shape):
    """Task 3.1's stand-in while 3.4 is graded: dL/dx for x of ``shape`` broadcast to grad.shape, by
    central differences of ``np.broadcast_to`` (a linear map: exact to rounding), in grad's dtype."""
    x = np.zeros(shape)
    return numerical_vjp(lambda x: np.broadcast_to(x, grad.shape), x, grad.astype(np.float64)).astype(grad.dtype)


def axes_of(axis, ndim):
    """None -> every axis; an int or a tuple -> the sorted tuple of non-negative axes (as npgpt saves them)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def distinct(shape, seed):
    """Values at least 0.1 apart (no ties): max has a derivative everywhere, finite differences work."""
    rng = np.random.default_rng(seed)
    v = rng.permutation(int(np.prod(shape))) * 0.1
    return (v - v.mean()).reshape(shape)


# ----------------------------------------------------------------------------- 3.1 unbroadcast
# (the shape of the broadcast result, the input's shape); equal shapes are handled outside the task
UNBROADCAST = [
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


@pytest.mark.task("3.1", points=3)
@pytest.mark.parametrize("grad_shape, shape", UNBROADCAST, ids=[f"{g}->{s}" for g, s in UNBROADCAST])
def test_unbroadcast_is_the_backward_of_broadcasting(grad_shape, shape):
    g = np.random.default_rng(0).standard_normal(grad_shape)
    got = unbroadcast(g.copy(), shape)
    want = expected("unbroadcast_reference", g, shape)
    assert_close(got, want, f"unbroadcast(grad {grad_shape}, {shape})", rtol=1e-7, atol=1e-9)


@pytest.mark.task("3.1", points=1)
def test_unbroadcast_counts_the_copies_and_keeps_float32():
    # with a gradient of ones, each input entry gets the number of copies broadcasting made of it
    ones = np.ones((2, 3, 4), dtype=np.float32)
    for shape, copies in [((4,), 6), ((3, 1), 8), ((2, 1, 1), 12), ((), 24)]:
        got = unbroadcast(ones.copy(), shape)
        assert_close(got, np.full(shape, copies, dtype=np.float32), f"unbroadcast(ones (2, 3, 4), {shape})")
        assert got.dtype == np.float32, f"unbroadcast must keep grad's dtype float32, got {got.dtype}"


# ----------------------------------------------------------------------------- 3.2 sum and mean
# (input shape, axis): every axis, one, the last, two, negative ones, a vector, a 0-d input
REDUCTIONS = [
    ((2, 3, 4), None),
    ((2, 3, 4), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -2)),
    ((5,), 0),
    ((), None),
]
REDUCTION_IDS = [f"{s} axis={a}" for s, a in REDUCTIONS]


def reduction_case(shape, axis, keepdims, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(np.sum(x, axis=axis, keepdims=keepdims).shape)
    return x, g, axes_of(axis, len(shape))


@pytest.mark.task("3.2", points=1.5)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", REDUCTIONS, ids=REDUCTION_IDS)
def test_sum_backward(shape, axis, keepdims):
    x, g, axes = reduction_case(shape, axis, keepdims)
    (dx,) = call_backward(Sum, (), g, (True,), meta=(x.shape, axes, keepdims))
    expected = numerical_vjp(lambda x: np.sum(x, axis=axis, keepdims=keepdims), x, g)
    assert_close(dx, expected, f"Sum backward, x {shape}, axis={axis}, keepdims={keepdims}", rtol=1e-7, atol=1e-9)


@pytest.mark.task("3.2", points=1)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", REDUCTIONS, ids=REDUCTION_IDS)
def test_mean_backward(shape, axis, keepdims):
    x, g, axes = reduction_case(shape, axis, keepdims, seed=3)
    n = int(np.prod([x.shape[a] for a in axes]))
    (dx,) = call_backward(Mean, (), g, (True,), meta=(x.shape, axes, keepdims, n))
    expected = numerical_vjp(lambda x: np.mean(x, axis=axis, keepdims=keepdims), x, g)
    assert_close(dx, expected, f"Mean backward, x {shape}, axis={axis}, keepdims={keepdims}", rtol=1e-7, atol=1e-9)


@pytest.mark.task("3.2", points=0.5)
def test_sum_and_mean_keep_float32():
    g = np.ones((2, 4), dtype=np.float32)
    (ds,) = call_backward(Sum, (), g, (True,), meta=((2, 3, 4), (1,), False))
    (dm,) = call_backward(Mean, (), g, (True,), meta=((2, 3, 4), (1,), False, 3))
    assert ds.shape == dm.shape == (2, 3, 4), f"shapes {ds.shape} and {dm.shape}, expected the input's (2, 3, 4)"
    assert ds.dtype == dm.dtype == np.float32, f"gradients must stay float32, got {ds.dtype} and {dm.dtype}"
    assert_close(dm, np.full((2, 3, 4), 1 / 3, dtype=np.float32), "Mean backward in float32", rtol=1e-6)


# ----------------------------------------------------------------------------- 3.3 max
def max_backward(monkeypatch, x, g, axis, keepdims):
    """Max.backward on the mask and meta computed here. Task 3.3 is graded on its own: ``_expand``
    (task 3.2) is replaced by a reshape to the shape this reduction keeps."""
    axes = axes_of(axis, x.ndim)
    kept = np.max(x, axis=axis, keepdims=True).shape
    monkeypatch.setattr(reduce_module, "_expand", lambda g, axes, keepdims: g.reshape(kept))
    mask = x == x.max(axis=axes, keepdims=True)
    return call_backward(Max, (mask,), g, (True,), meta=(axes, keepdims))[0]


@pytest.mark.task("3.3", points=1)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", REDUCTIONS, ids=REDUCTION_IDS)
def test_max_backward_without_ties(monkeypatch, shape, axis, keepdims):
    x = distinct(shape, seed=4)
    g = np.random.default_rng(5).standard_normal(np.max(x, axis=axis, keepdims=keepdims).shape)
    expected = numerical_vjp(lambda x: np.max(x, axis=axis, keepdims=keepdims), x, g)
    what = f"Max backward, x {shape}, axis={axis}, keepdims={keepdims}"
    assert_close(max_backward(monkeypatch, x, g, axis, keepdims), expected, what, rtol=1e-7, atol=1e-9)


TIES = [
    ("two of three tie in row 0, all of row 1", np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), 1),
    ("column ties", np.array([[5.0, 0.0], [5.0, 1.0], [-1.0, 1.0]]), 0),
    ("three tie over everything", np.array([[4.0, 4.0], [1.0, 4.0]]), None),
    (
        "ties in a middle axis",
        np.array([[[1.0, 2.0], [1.0, 0.0], [0.0, 2.0]], [[3.0, 3.0], [3.0, 3.0], [3.0, 1.0]]]),
        1,
    ),
]


@pytest.mark.task("3.3", points=2)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name, x, axis", TIES, ids=[t[0] for t in TIES])
def test_max_splits_ties_evenly(monkeypatch, name, x, axis, keepdims):
    g = np.random.default_rng(6).standard_normal(np.max(x, axis=axis, keepdims=keepdims).shape)
    want = expected("max_backward_rule", x, g, axis, keepdims)
    dx = max_backward(monkeypatch, x, g, axis, keepdims)
    assert_close(dx, want, f"Max backward with ties ({name}): each of k maxima gets g / k")
    np.testing.assert_allclose(
        dx.sum(), g.sum(), err_msg="the tied maxima must share g, not each take all of it", rtol=1e-12
    )


@pytest.mark.task("3.3", points=1)
def test_max_keeps_float32(monkeypatch):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 1.0]], dtype=np.float32)
    g = np.array([1.0, -2.0], dtype=np.float32)
    dx = max_backward(monkeypatch, x, g, 1, False)
    assert dx.dtype == np.float32, f"Max backward must keep g's dtype float32, got {dx.dtype} (an integer count?)"
    assert_close(dx, np.array([[0, 0.5, 0.5], [-2, 0, 0]], dtype=np.float32), "Max backward in float32")


# ----------------------------------------------------------------------------- 3.4 matmul
@pytest.fixture
def own_unbroadcast(monkeypatch):
    """Task 3.4 is graded on its own: unbroadcast by central differences stands in for task 3.1's."""
    monkeypatch.setattr(matmul_module, "unbroadcast", unbroadcast_by_differences)


MATMUL = [
    ((3, 4), (4, 5)),
    ((3, 3), (3, 3)),  # square: a transpose missing still has the right shape, only the values tell
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),  # a weight shared by a batch
    ((2, 2, 3, 4), (4, 2)),
    ((4, 5), (2, 5, 3)),  # a matrix shared by B's batch
    ((1, 3, 4), (2, 4, 2)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((1, 1), (1, 1)),
    ((4,), (4, 3)),  # 1-D A: a row vector
    ((3, 4), (4,)),  # 1-D B: a column vector
    ((4,), (4,)),  # a dot product: Z is 0-d
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
]


def matmul_case(sa, sb, seed=7):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    return a, b, rng.standard_normal(np.matmul(a, b).shape)


@pytest.mark.task("3.4", points=4)
@pytest.mark.parametrize("sa, sb", MATMUL, ids=[f"{a}@{b}" for a, b in MATMUL])
def test_matmul_backward(own_unbroadcast, sa, sb):
    a, b, g = matmul_case(sa, sb)
    da, db = call_backward(MatMul, (a, b), g, (True, True))
    assert_close(da, numerical_vjp(lambda a: np.matmul(a, b), a, g), f"dA for A {sa} @ B {sb}", rtol=1e-7, atol=1e-9)
    assert_close(db, numerical_vjp(lambda b: np.matmul(a, b), b, g), f"dB for A {sa} @ B {sb}", rtol=1e-7, atol=1e-9)


@pytest.mark.task("3.4", points=1)
@pytest.mark.parametrize("sx", [(3, 2, 4), (2, 2, 2, 4)], ids=str)
def test_a_shared_weight_gets_the_sum_over_the_batch(own_unbroadcast, sx):
    # W (4, 5) is used by every matrix of the batch: its gradient adds up one contribution per matrix
    x, w, g = matmul_case(sx, (4, 5), seed=8)
    _, dw = call_backward(MatMul, (x, w), g, (True, True))
    # the sum over the batch of what each matrix alone gives W
    each = [
        numerical_vjp(lambda w, xb=xb: xb @ w, w, gb)
        for xb, gb in zip(x.reshape(-1, *sx[-2:]), g.reshape(-1, sx[-2], 5))
    ]
    assert_close(dw, sum(each), f"dW for X {sx} @ W (4, 5): one contribution per matrix of the batch", rtol=1e-7)


@pytest.mark.task("3.4", points=1)
def test_matmul_one_input_and_float32(own_unbroadcast):
    a, b, g = matmul_case((2, 3, 4), (2, 4, 5), seed=9)
    a32, b32, g32 = (v.astype(np.float32) for v in (a, b, g))
    da, _ = call_backward(MatMul, (a32, b32), g32, (True, False))
    _, db = call_backward(MatMul, (a32, b32), g32, (False, True))
    assert da is not None and db is not None, "the gradient of an input that needs one is missing"
    assert da.dtype == db.dtype == np.float32, f"gradients must stay float32, got {da.dtype} and {db.dtype}"
    want_a, want_b = numerical_vjp(lambda a: a @ b, a, g), numerical_vjp(lambda b: a @ b, b, g)
    assert_close(da, want_a.astype(np.float32), "dA in float32 (only A needs one)", rtol=1e-4, atol=1e-5)
    assert_close(db, want_b.astype(np.float32), "dB in float32 (only B needs one)", rtol=1e-4, atol=1e-5)


@pytest.mark.task("3.4", points=1)
@pytest.mark.parametrize("sx", [(2, 3, 4), (3, 4), (4,)], ids=str)
def test_linear_backward(sx):
    # y = x @ W^T + b with W (5, 4) in PyTorch's (out, in) layout
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal(sx), rng.standard_normal((5, 4)), rng.standard_normal(5)
    g = rng.standard_normal((*sx[:-1], 5))
    gx, gw, _ = call_backward(Linear, (x, w), g, (True, True, False), has_bias=True)
    assert_close(gx, numerical_vjp(lambda x: x @ w.T + b, x, g), f"Linear dx, x {sx}", rtol=1e-7, atol=1e-9)
    assert_close(gw, numerical_vjp(lambda w: x @ w.T + b, w, g), f"Linear dW (5, 4), x {sx}", rtol=1e-7, atol=1e-9)
