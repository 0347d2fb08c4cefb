"""Every gradient is verified: float64 finite-difference checks of every case of every op.

The op list is not written here: it is ``npgpt.gradcheck_cases.all_functions()``, each op checked on
the ``Case`` examples ``cases_for(op)`` returns, plus extra shapes below (negative axes, size-1 axes, 0-d
scalars, 1-D matmul, split, fancy and boolean indexing, tensor exponents, reflected operators).
Every case also runs in float32 to show that nothing is silently upcast.
"""

import numpy as np
import pytest
from conftest import make_inputs, op_cases

import npgpt
import npgpt.functional as F
from npgpt.gradcheck_cases import Case, all_functions, cases_for, distinct, rand, randpos

# ops whose backward is tested by dedicated tests (below and in test_cuda_ops.py), not through cases
DEDICATED = {"ToDtype", "ToDevice"}


def _mk(*shapes, make=rand):
    """Case input maker: one array per shape, all drawn with ``make``."""
    return lambda xp, dt, rng: [make(xp, dt, rng, s) for s in shapes]


def _mixed(*makers_and_shapes):
    return lambda xp, dt, rng: [m(xp, dt, rng, s) for m, s in makers_and_shapes]


IDS = np.array([[0, 2], [2, 2]])  # a 2-D index with repeats: row 2 is picked three times
ROW_MASK = np.array([True, False, True, True])
MASK = np.random.default_rng(5).random((4, 5)) > 0.4
COND = np.random.default_rng(6).random((2, 1, 4)) > 0.5

EXTRA = [
    # negative axes
    Case("sum axis=-2", lambda a: a.sum(axis=-2), _mk((2, 3, 4))),
    Case("mean axis=(-1,-3) keepdims", lambda a: a.mean(axis=(-1, -3), keepdims=True), _mk((2, 3, 4))),
    Case("var axis=-2 keepdims", lambda a: a.var(axis=-2, keepdims=True), _mk((2, 3, 4))),
    Case("max axis=-2", lambda a: a.max(axis=-2), _mk((2, 3, 4), make=distinct)),
    Case("softmax axis=-2", lambda a: a.softmax(axis=-2), _mk((2, 3, 4))),
    Case("log_softmax axis=-3", lambda a: a.log_softmax(axis=-3), _mk((2, 3, 4))),
    Case("concat axis=-2", lambda a, b: F.concat([a, b], axis=-2), _mk((2, 1, 3), (2, 2, 3))),
    Case("stack axis=-2", lambda a, b: F.stack([a, b], axis=-2), _mk((2, 3), (2, 3))),
    Case("permute(-1,0,-2)", lambda a: a.permute(-1, 0, -2), _mk((2, 3, 4))),
    # size-1 axes
    Case("(1,4)*(1,1)", lambda a, b: a * b, _mk((1, 4), (1, 1))),
    Case("(3,1,2)-(1,4,1)", lambda a, b: a - b, _mk((3, 1, 2), (1, 4, 1))),
    Case("sum over size-1 axis", lambda a: a.sum(axis=1), _mk((3, 1, 2))),
    Case("max over size-1 axis", lambda a: a.max(axis=0, keepdims=True), _mk((1, 4))),
    Case("softmax over size-1 axis", lambda a: a.softmax(axis=-1) * a, _mk((3, 1))),
    Case("(1,4)@(4,1)", lambda a, b: a @ b, _mk((1, 4), (4, 1))),
    Case("layer_norm (1,1,3)", lambda x, w, b: F.layer_norm(x, w, b), _mk((1, 1, 3), (3,), (3,))),
    # 0-d scalars
    Case("()*(2,3)", lambda a, b: a * b, _mk((), (2, 3))),
    Case("(2,3)/()", lambda a, b: a / b, _mixed((rand, (2, 3)), (randpos, ()))),
    Case("()**()", lambda a, b: a**b, _mixed((randpos, ()), (rand, ()))),
    Case("exp ()", lambda a: a.exp(), _mk(())),
    Case("mean ()", lambda a: a.mean(), _mk(())),
    Case("where ()|(3,1) cond (2,1,4)", lambda a, b: F.where(COND, a, b), _mk((), (3, 1))),
    # 1-D matmul
    Case("(5,)@(5,)", lambda a, b: a @ b, _mk((5,), (5,))),
    Case("(3,)@(2,3,4)", lambda a, b: a @ b, _mk((3,), (2, 3, 4))),
    Case("(2,1,3,4)@(4,)", lambda a, b: a @ b, _mk((2, 1, 3, 4), (4,))),
    Case("(3,4)@(2,4,5)", lambda a, b: a @ b, _mk((3, 4), (2, 4, 5))),
    Case("(2,1,3,4)@(5,4,2)", lambda a, b: a @ b, _mk((2, 1, 3, 4), (5, 4, 2))),
    # split (pieces weighted differently, one piece unused: its gradient is zero)
    Case(
        "split(2) remainder",
        lambda a: F.concat([p * (i + 1) for i, p in enumerate(a.split(2, axis=-1))], -1),
        _mk((3, 5)),
    ),
    Case(
        "split([1,3,2], axis=1)",
        lambda a: F.concat([p * (i + 1) for i, p in enumerate(a.split([1, 3, 2], axis=1))], 1),
        _mk((2, 6, 2)),
    ),
    Case("split unused piece", lambda a: a.split([2, 2], axis=0)[1].exp(), _mk((4, 3))),
    # swapaxes / transpose
    Case("swapaxes(0,2)", lambda a: a.swapaxes(0, 2), _mk((2, 3, 4))),
    Case("transpose(0,-1)", lambda a: a.transpose(0, -1), _mk((2, 3, 4))),
    Case(".T", lambda a: a.T, _mk((3, 4))),
    Case("view", lambda a: a.view(4, 3).exp(), _mk((2, 6))),
    # integer-array indexing with repeats, boolean masks
    Case("[[0,0,2]]", lambda a: a[[0, 0, 2]], _mk((4, 5))),
    Case("[:, [1,1,3]]", lambda a: a[:, [1, 1, 3]], _mk((4, 5))),
    Case("[2-D ids]", lambda a: a[IDS], _mk((4, 5))),
    Case("[int tensor ids]", lambda a: a[npgpt.tensor(np.array([3, 3, 0]))], _mk((4, 5))),
    Case("[ids, :, ids]", lambda a: a[[0, 1, 1], :, [2, 2, 0]], _mk((2, 3, 4))),
    Case("[bool mask]", lambda a: a[MASK], _mk((4, 5))),
    Case("[row mask]", lambda a: a[ROW_MASK], _mk((4, 5))),
    Case("[bool tensor mask]", lambda a: a[npgpt.tensor(MASK)], _mk((4, 5))),
    # x ** tensor exponent
    Case("(2,3)**() tensor", lambda a, b: a**b, _mixed((randpos, (2, 3)), (rand, ()))),
    Case("(3,)**(2,3) tensor", lambda a, b: a**b, _mixed((randpos, (3,)), (rand, (2, 3)))),
    Case("x**x", lambda a: a**a, _mk((3, 4), make=randpos)),
    # reflected operators: a Python number (or NumPy array) on the left
    Case("2 + x", lambda a: 2 + a, _mk((3, 4))),
    Case("2 - x", lambda a: 2 - a, _mk((3, 4))),
    Case("2 * x", lambda a: 2 * a, _mk((3, 4))),
    Case("2 / x", lambda a: 2 / a, _mk((3, 4), make=randpos)),
    Case("2 ** x", lambda a: 2**a, _mk((3, 4))),
    Case("0.5 ** x", lambda a: 0.5**a, _mk((2, 3))),
    Case("ndarray - x", lambda a: np.arange(4.0) - a, _mk((3, 4))),
    Case("ndarray @ x", lambda a: np.ones((2, 3)) @ a, _mk((3, 4))),
    # composites: a node used several times, a graph that branches and joins
    Case("x*x + x", lambda a: a * a + a, _mk((3, 4))),
    Case("diamond", lambda a: (a.exp() * a.tanh()).sum(axis=0) / (1 + a.sigmoid()).mean(axis=0), _mk((3, 4))),
]


def extra_params():
    return [pytest.param(c, id=c.name.replace(" ", "_")) for c in EXTRA]


def _run(fn, arrays, dtype, requires_grad=True):
    inputs = [npgpt.Tensor(a, requires_grad=requires_grad) for a in arrays]
    assert all(t.dtype == dtype for t in inputs)
    return inputs, fn(*inputs)


# ----------------------------------------------------------------------- float64 gradchecks
@pytest.mark.parametrize("op, case", op_cases())
def test_op_case_gradcheck(op, case):
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case)]
    report = npgpt.gradcheck(case.fn, inputs)
    assert report.ok, f"{op.__name__} {case.name}:\n{report}"


@pytest.mark.parametrize("case", extra_params())
def test_extra_case_gradcheck(case):
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case)]
    report = npgpt.gradcheck(case.fn, inputs)
    assert report.ok, f"{case.name}:\n{report}"


def test_every_op_has_cases():
    ops = all_functions()
    assert len(ops) >= 30, [f.__name__ for f in ops]
    missing = {f.__name__ for f in ops if not cases_for(f)}
    assert missing <= DEDICATED, f"ops without a gradient-check case: {sorted(missing - DEDICATED)}"
    # and every case builds float64 inputs that its fn accepts
    for f in ops:
        for c in cases_for(f):
            assert c.name and callable(c.fn) and callable(c.make), (f.__name__, c)


def test_case_names_unique_per_op():
    for f in all_functions():
        names = [c.name for c in cases_for(f)]
        assert len(names) == len(set(names)), f"{f.__name__}: duplicate case names {names}"


# ----------------------------------------------------------------------- float32 stays float32
def _check_float32(fn, arrays, label):
    inputs, out = _run(fn, arrays, np.float32)
    assert out.dtype == np.float32, f"{label}: output is {out.dtype}, expected float32 (silent upcast)"
    u = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(u)
    for k, t in enumerate(inputs):
        assert t.grad is not None, f"{label}: input {k} got no gradient"
        assert isinstance(t.grad, np.ndarray) and t.grad.dtype == np.float32, (
            f"{label}: input {k} grad is {type(t.grad).__name__} {getattr(t.grad, 'dtype', '')}, expected float32"
        )
        assert t.grad.shape == t.shape
        assert np.all(np.isfinite(t.grad)), label


@pytest.mark.parametrize("op, case", op_cases())
def test_op_case_float32_stays_float32(op, case):
    _check_float32(case.fn, make_inputs(case, dtype=np.float32), f"{op.__name__} {case.name}")


@pytest.mark.parametrize("case", extra_params())
def test_extra_case_float32_stays_float32(case):
    _check_float32(case.fn, make_inputs(case, dtype=np.float32), case.name)


def test_float32_close_to_float64():
    """The float32 gradients of a composite agree with float64 ones to float32 precision."""
    a64 = np.random.default_rng(0).standard_normal((4, 6))
    grads = []
    for dt in (np.float64, np.float32):
        x = npgpt.tensor(a64.astype(dt), requires_grad=True)
        w = npgpt.tensor(np.linspace(0.5, 1.5, 6).astype(dt), requires_grad=True)
        F.layer_norm(x, w).gelu().softmax().log().mean().backward()
        grads.append((x.grad, w.grad))
    for g64, g32 in zip(*grads):
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------- ToDtype / ToDevice
def test_to_dtype_backward_returns_input_dtype():
    x = npgpt.tensor(np.array([[1.0, -2.0, 3.0]], dtype=np.float32), requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64 and y.requires_grad and y._ctx.fn.__name__ == "ToDtype"
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())


def test_to_dtype_gradcheck_through_float32_roundtrip():
    # float64 -> float32 -> float64: the derivative is 1 up to float32 rounding of the values
    x = npgpt.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    report = npgpt.gradcheck(lambda a: a.float().double().exp(), [x], eps=1e-3, atol=1e-3, rtol=1e-3)
    assert report.ok, report


def test_to_dtype_same_dtype_is_identity():
    x = npgpt.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(np.float32) is x and x.float() is x


def test_to_device_backward_on_cpu():
    # ToDevice to the device the array is on: forward and backward pass values through unchanged
    from npgpt.ops.shape import ToDevice

    x = npgpt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = ToDevice.apply(x, device="cpu")
    assert y.requires_grad and y.device == "cpu"
    g = np.random.default_rng(0).standard_normal((2, 3))
    y.backward(g)
    np.testing.assert_array_equal(x.grad, g)
    assert x.to("cpu") is x
