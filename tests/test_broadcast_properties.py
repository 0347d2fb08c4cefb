"""Property tests: broadcasting and reductions are differentiated right for *any* small shapes.

Hypothesis draws broadcast-compatible shape pairs (dims of size 1-3, up to 4 axes, 0-d included)
and axis subsets; every draw must pass a float64 gradcheck and give each input a gradient of its
own shape. ``derandomize=True`` makes the examples the same on every run.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import npgpt
import npgpt.functional as F

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


def make(shape, seed, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return npgpt.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def check(fn, inputs):
    out = fn(*inputs)
    report = npgpt.gradcheck(fn, inputs)
    assert report.ok, report
    out.backward(np.ones(out.shape))
    for t in inputs:
        assert t.grad.shape == t.shape and t.grad.dtype == np.float64
    return out


@SETTINGS
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcast(shapes, op, seed):
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    a = make(sa, seed, positive=op == "pow")  # a ** b needs a > 0 for b's gradient
    b = make(sb, seed + 1, positive=op == "div")  # keep divisors away from 0
    out = check(BINARY[op], [a, b])
    assert out.shape == result


@SETTINGS
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, min_side=1, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_where_broadcast(shapes, seed):
    sc, sa, sb = shapes.input_shapes
    cond = np.random.default_rng(seed).random(sc) > 0.5
    a, b = make(sa, seed), make(sb, seed + 1)
    out = check(lambda x, y: F.where(cond, x, y), [a, b])
    assert out.shape == shapes.result_shape


@st.composite
def shape_and_axes(draw):
    """A shape of 1-4 axes and an axis argument: None, an int or a tuple, some of them negative."""
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        axes = [a - nd if draw(st.booleans()) else a for a in axes]  # same axis, counted from the end
        axis = axes[0] if kind == "int" else tuple(axes)
    return shape, axis


def _reduced_shape(shape, axis, keepdims):
    nd = len(shape)
    axes = set(range(nd)) if axis is None else {a % nd for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape) if keepdims or i not in axes)


@SETTINGS
@given(
    sa=shape_and_axes(),
    keepdims=st.booleans(),
    op=st.sampled_from(["sum", "mean", "var", "max"]),
    seed=st.integers(0, 2**16),
)
def test_reductions(sa, keepdims, op, seed):
    shape, axis = sa
    if op == "max":  # distinct values: no ties, so the max is stable under the finite-difference step
        n = int(np.prod(shape))
        x = npgpt.tensor(
            (np.random.default_rng(seed).permutation(n) * 0.1).reshape(shape).astype(np.float64), requires_grad=True
        )
    else:
        x = make(shape, seed)
    out = check(lambda t: getattr(t, op)(axis=axis, keepdims=keepdims), [x])
    assert out.shape == _reduced_shape(shape, axis, keepdims)
    np.testing.assert_allclose(out.numpy(), getattr(np, op)(x.numpy(), axis=axis, keepdims=keepdims), rtol=1e-12)
