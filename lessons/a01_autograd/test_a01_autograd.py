"""Grader of assignment 1 (autograd from scratch).

    pytest lessons/a01_autograd --lesson-impl=exercises    # grade your exercises.py

The reference for every gradient is npgpt itself: its autograd on float64 tensors, and
``npgpt.gradcheck`` (central finite differences in float64 with a random upstream gradient).
"""

import math

import numpy as np
import pytest

import npgpt
from lessons.grading import assert_close, assert_gradcheck, t64

# ------------------------------------------------------------------------------------ Part 1: Scalar
# Each expression is written once and run on the student's Scalars and on npgpt's float64 tensors,
# whose gradients are the reference. Values are positive where a power needs it.
EXPRESSIONS = {
    "mul": (lambda a, b: a * b, [1.5, -2.0]),
    "pow": (lambda a: a**3, [1.3]),
    "pow-fractional": (lambda a: a**-1.5, [0.7]),
    "exp": (lambda a: a.exp(), [0.4]),
    "tanh": (lambda a: a.tanh(), [0.3]),
    "division": (lambda a, b: a / b, [2.0, -0.8]),
    "used-twice": (lambda a: a * a, [1.7]),  # a's two contributions must add up
    "used-thrice": (lambda a, b: a * b + a * a + a, [0.9, -1.1]),
    "diamond": (lambda a, b: _diamond(a * b), [0.6, 0.5]),  # c feeds two paths: needs topological order
    "neuron": (lambda x1, x2, w1, w2, b: (w1 * x1 + w2 * x2 + b).tanh(), [2.0, 0.0, -3.0, 1.0, 6.8813735870]),
    "deep-chain": (lambda a: _chain(a, 60), [0.5]),
}


def _diamond(c):
    return c.tanh() * c.exp() + c


def _chain(a, n):
    for i in range(n):
        a = (a * 1.01 + 0.01).tanh() if i % 2 else a * a * 0.5 + 0.3
    return a


def _reference_grads(fn, values):
    ts = [npgpt.tensor(np.float64(v), requires_grad=True) for v in values]
    out = fn(*ts)
    out.backward()
    return float(out.item()), [float(t.grad) for t in ts]


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_scalar_forward_and_gradients(impl, name):
    fn, values = EXPRESSIONS[name]
    xs = [impl.Scalar(v) for v in values]
    out = fn(*xs)
    want_value, want_grads = _reference_grads(fn, values)
    assert math.isclose(out.data, want_value, rel_tol=1e-12, abs_tol=1e-12), f"{name}: value {out.data} != {want_value}"
    out.backward()
    assert out.grad == 1.0, f"{name}: backward must seed the output's grad with dL/dL = 1, got {out.grad}"
    got = [x.grad for x in xs]
    for i, (g, w) in enumerate(zip(got, want_grads)):
        assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12), (
            f"{name}: gradient of input {i} is {g}, expected {w} (all grads {got} vs {want_grads})"
        )


def test_scalar_gradients_match_finite_differences(impl):
    # independent of npgpt: d/da of tanh(a * b) * exp(a) + a ** 2 by central differences
    def f(a, b):
        return (a * b).tanh() * a.exp() + a**2

    a, b = impl.Scalar(0.7), impl.Scalar(-0.4)
    out = f(a, b)
    out.backward()
    h = 1e-6
    num_a = (f(impl.Scalar(0.7 + h), impl.Scalar(-0.4)).data - f(impl.Scalar(0.7 - h), impl.Scalar(-0.4)).data) / (
        2 * h
    )
    num_b = (f(impl.Scalar(0.7), impl.Scalar(-0.4 + h)).data - f(impl.Scalar(0.7), impl.Scalar(-0.4 - h)).data) / (
        2 * h
    )
    assert math.isclose(a.grad, num_a, rel_tol=1e-6), f"d/da: analytic {a.grad}, numeric {num_a}"
    assert math.isclose(b.grad, num_b, rel_tol=1e-6), f"d/db: analytic {b.grad}, numeric {num_b}"


def test_scalar_ops_record_the_graph(impl):
    a, b = impl.Scalar(2.0), impl.Scalar(3.0)
    for z, parents in [(a * b, (a, b)), (a**2, (a,)), (a.exp(), (a,)), (a.tanh(), (a,))]:
        assert all(p is q for p, q in zip(z.parents, parents)) and len(z.parents) == len(parents), (
            f"{z.op or z}: parents should be the input Scalars themselves"
        )
        assert len(z.local_grads) == len(z.parents), f"{z.op or z}: one local gradient per parent"


# ------------------------------------------------------------------------------------ Part 2: Functions
OPS = {
    "Mul": (lambda impl: impl.Mul.apply, 2, None),
    "Div": (lambda impl: impl.Div.apply, 2, (0.5, 2.0)),  # positive denominators, away from 0
    "Exp": (lambda impl: impl.Exp.apply, 1, None),
    "Tanh": (lambda impl: impl.Tanh.apply, 1, None),
}
SHAPES = [(3, 4), (), (2, 3, 2)]


def _inputs(n, shape, positive_last):
    ins = [t64(shape, seed=i + 1, name=f"input {i}") for i in range(n)]
    if positive_last:
        low, high = positive_last
        ins[-1] = t64(shape, seed=n + 1, low=low, high=high, name=f"input {n - 1}")
    return ins


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op", list(OPS))
def test_function_gradcheck(impl, op, shape):
    get, n, positive = OPS[op]
    assert_gradcheck(get(impl), _inputs(n, shape, positive), what=f"{op}.backward on shape {shape}")


@pytest.mark.parametrize("op", list(OPS))
def test_function_matches_npgpt(impl, op):
    # the same gradients as npgpt's own op, for a random upstream gradient
    get, n, positive = OPS[op]
    ref = {"Mul": lambda a, b: a * b, "Div": lambda a, b: a / b, "Exp": lambda a: a.exp(), "Tanh": lambda a: a.tanh()}[
        op
    ]
    ins = _inputs(n, (4, 5), positive)
    g = np.random.default_rng(7).standard_normal((4, 5))
    get(impl)(*ins).backward(g)
    got = [t.grad.copy() for t in ins]
    for t in ins:
        t.grad = None
    ref(*ins).backward(g)
    for i, (mine, want) in enumerate(zip(got, ins)):
        assert_close(mine, want.grad, f"{op}: gradient of input {i}")


def test_composed_neuron_gradcheck(impl):
    x, w = t64((5,), seed=1, name="x"), t64((5,), seed=2, name="w")
    b = t64((), seed=3, name="b")
    assert_gradcheck(impl.neuron, [x, w, b], what="tanh(w * x + b) built from your Mul and Tanh")


# ------------------------------------------------------------------------------------ Part 3: by hand
@pytest.mark.parametrize("n", [1, 6])
def test_neuron_backward_by_hand(impl, n):
    rng = np.random.default_rng(n)
    x, w, g = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
    b = np.float64(rng.standard_normal())
    got = impl.neuron_backward(x, w, np.asarray(b), g)
    assert len(got) == 3, "return (dx, dw, db)"
    tx, tw, tb = (npgpt.tensor(v, requires_grad=True) for v in (x, w, np.asarray(b)))
    (tw * tx + tb).tanh().backward(g)
    for name, mine, t in zip(("dx", "dw", "db"), got, (tx, tw, tb)):
        assert_close(mine, t.grad, f"neuron_backward {name}")
