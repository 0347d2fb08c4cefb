"""Instructor-only tests of assignment 1 (never handed out; ``python -m lessons.grade --hidden``).

They probe what the handed-out tests leave open: integer and trivial exponents, saturated tanh,
denominators near zero, long vectors, and the analytic gradients written out.
"""

import math

import numpy as np
import pytest

from lessons.a01_autograd.chain_rule import neuron_backward
from lessons.a01_autograd.scalar import Scalar
from lessons.grading import assert_close, call_backward
from npgpt.ops.elementwise import Div, Exp, Tanh


@pytest.mark.task("1.1", points=1)
def test_hidden_trivial_exponents_and_saturation():
    a = Scalar(1.7)
    for p, want in [(0, 0.0), (1, 1.0), (2, 3.4), (-1, -1 / 1.7**2)]:
        z = a**p
        assert math.isclose(z.data, 1.7**p) and math.isclose(z.local_grads[0], want, abs_tol=1e-15), f"a ** {p}"
    z = Scalar(20.0).tanh()
    assert z.data == 1.0 and abs(z.local_grads[0]) < 1e-15, "tanh(20): value 1, local gradient 0"
    z = Scalar(0.0).exp()
    assert z.data == 1.0 and z.local_grads[0] == 1.0, "exp(0): value 1, local gradient 1"


@pytest.mark.task("1.2", points=1)
def test_hidden_one_value_used_by_many_nodes():
    a, b = Scalar(0.5), Scalar(-1.5)
    uses = [Scalar(0.0, (a, b, a), (1.0 + k, 2.0, -0.5)) for k in range(20)]
    out = Scalar(0.0, tuple(uses), tuple(0.1 * k for k in range(20)))
    out.backward()
    assert math.isclose(a.grad, sum(0.1 * k * (0.5 + k) for k in range(20)))
    assert math.isclose(b.grad, sum(0.1 * k * 2.0 for k in range(20)))


@pytest.mark.task("1.3", points=1)
def test_hidden_div_near_zero():
    rng = np.random.default_rng(21)
    a, g = rng.standard_normal(8) * 1e3, rng.standard_normal(8)
    b = rng.uniform(1e-4, 1e-3, 8) * rng.choice([-1.0, 1.0], 8)
    ga, gb = call_backward(Div, (b, a / b), g, (True, True), shape_a=a.shape)
    assert_close(ga, g / b, "Div: dL/da with |b| < 1e-3", rtol=1e-12, atol=0)
    assert_close(gb, -g * a / b**2, "Div: dL/db with |b| < 1e-3", rtol=1e-10, atol=0)


@pytest.mark.task("1.4", points=1)
def test_hidden_extreme_inputs():
    x = np.array([-30.0, -20.0, 0.0, 20.0, 50.0])
    g = np.array([0.3, -1.2, 2.0, 0.7, -0.4])
    (dx,) = call_backward(Exp, (np.exp(x),), g, (True,))
    assert_close(dx, g * np.exp(x), "Exp: dL/dx from e^-30 to e^50", rtol=1e-14, atol=0)
    (dx,) = call_backward(Tanh, (np.tanh(x),), g, (True,))
    assert_close(dx, g / np.cosh(x) ** 2, "Tanh: dL/dx at saturated inputs", rtol=1e-6, atol=1e-15)


@pytest.mark.task("1.5", points=1)
def test_hidden_neuron_backward_on_a_long_vector():
    rng = np.random.default_rng(22)
    x, w, g = (rng.standard_normal(1000) for _ in range(3))
    b = np.asarray(0.3)
    dx, dw, db = neuron_backward(x, w, b, g)
    dz = g / np.cosh(w * x + b) ** 2
    assert_close(dx, dz * w, "dx", rtol=1e-9, atol=1e-12)
    assert_close(dw, dz * x, "dw", rtol=1e-9, atol=1e-12)
    assert_close(db, dz.sum(), "db", rtol=1e-9, atol=1e-12)
