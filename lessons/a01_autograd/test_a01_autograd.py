"""Grader of assignment 1 (autograd from scratch): 1.1 the Scalar ops, 1.2 Scalar.backward,
1.3 Mul and Div backward, 1.4 Exp and Tanh backward, 1.5 the neuron's gradients by hand.

    python -m lessons.grade --assignment a01        # points per task
    pytest lessons/a01_autograd --task 1.2          # one task, pytest's report

Each task is graded on its own. The Scalar ops (1.1) are judged by the graph they record: their
values, their parents and their local gradients against central finite differences of Python's
own math functions, and chained over whole expressions by forward accumulation (the grader walks
the recorded graph itself, without your backward). ``backward`` (1.2) runs on graphs the grader
builds with the ``Scalar`` constructor, with local gradients of its choosing. The tensor backwards
(1.3, 1.4) are called directly on arrays the grader computed and compared with central
differences in float64 for a random upstream gradient: the instructor's ``answers.py`` computes
them, recorded in ``expected.npz`` for a handout (see ``lessons.expected``).
"""

import math

import numpy as np
import pytest

from lessons.a01_autograd.chain_rule import neuron_backward
from lessons.a01_autograd.scalar import Scalar
from lessons.expected import Expected
from lessons.grading import assert_close, call_backward
from npgpt.ops.elementwise import Div, Exp, Mul, Tanh

expected = Expected(__file__)


def central(f, values, i, h=1e-6):
    """d f / d values[i] by a central difference of a function of Python floats."""
    up, down = list(values), list(values)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def chained(out, leaves):
    """d out / d leaf for each leaf by forward accumulation over the recorded graph: a node's
    derivative is the sum over its parents of local gradient times the parent's derivative."""
    memo = {id(leaf): np.eye(len(leaves))[k] for k, leaf in enumerate(leaves)}

    def d(node):
        if id(node) not in memo:
            assert len(node.local_grads) == len(node.parents), f"{node}: one local gradient per parent"
            memo[id(node)] = sum(
                (float(lg) * d(p) for p, lg in zip(node.parents, node.local_grads)), np.zeros(len(leaves))
            )
        return memo[id(node)]

    return list(d(out))


# ------------------------------------------------------------------------------------ 1.1 the ops
def _exp(v):
    return v.exp() if isinstance(v, Scalar) else math.exp(v)


def _tanh(v):
    return v.tanh() if isinstance(v, Scalar) else math.tanh(v)


# one op each: the expression (on Scalars and on floats alike) and where to evaluate it
OPS = {
    "mul": (lambda a, b: a * b, [1.5, -2.0]),
    "mul-same-value": (lambda a, b: a * b, [0.8, 0.8]),
    "pow-3": (lambda a: a**3, [1.3]),
    "pow-negative-fraction": (lambda a: a**-1.5, [0.7]),
    "pow-half": (lambda a: a**0.5, [2.25]),
    "exp": (lambda a: _exp(a), [0.4]),
    "exp-negative": (lambda a: _exp(a), [-2.0]),
    "tanh": (lambda a: _tanh(a), [0.3]),
    "tanh-saturating": (lambda a: _tanh(a), [-1.7]),
}


@pytest.mark.task("1.1", points=2)
@pytest.mark.parametrize("name", list(OPS))
def test_op_records_value_parents_and_local_gradients(name):
    f, values = OPS[name]
    xs = [Scalar(v) for v in values]
    z = f(*xs)
    assert isinstance(z, Scalar), f"{name}: return a new Scalar, got {type(z).__name__}"
    assert math.isclose(z.data, f(*values), rel_tol=1e-12, abs_tol=1e-15), (
        f"{name}: value {z.data}, expected {f(*values)}"
    )
    assert len(z.parents) == len(xs) and all(p is x for p, x in zip(z.parents, xs)), (
        f"{name}: parents must be the input Scalars themselves, in order: got {z.parents}"
    )
    assert len(z.local_grads) == len(xs), f"{name}: one local gradient per parent, got {z.local_grads}"
    for i, local in enumerate(z.local_grads):
        want = central(f, values, i)
        assert isinstance(local, (int, float)), f"{name}: a local gradient is a number, got {type(local).__name__}"
        assert math.isclose(local, want, rel_tol=1e-7, abs_tol=1e-9), (
            f"{name}: local gradient d z / d input {i} is {local}, finite differences give {want:.10g}"
        )
    assert all(x.grad == 0.0 for x in xs), f"{name}: an op must not change its inputs' grad"


@pytest.mark.task("1.1", points=1)
def test_a_number_is_lifted_to_a_constant_scalar():
    a = Scalar(1.5)
    for z in (a * 4.0, 4.0 * a):
        assert z.parents[0] is a or z.parents[1] is a, f"{z}: a must be a parent of a * 4 and of 4 * a"
        k = 0 if z.parents[0] is a else 1
        other = z.parents[1 - k]
        assert isinstance(other, Scalar) and other.data == 4.0, "the number 4.0 becomes a constant Scalar parent"
        assert math.isclose(z.data, 6.0) and math.isclose(z.local_grads[k], 4.0), (
            f"a * 4: value {z.data} (6.0 expected), d z / d a {z.local_grads[k]} (4.0 expected)"
        )
        assert math.isclose(z.local_grads[1 - k], 1.5), f"a * 4: d z / d 4 is {z.local_grads[1 - k]}, expected 1.5"


# whole expressions: the ops' local gradients, chained, must give the derivative of the expression
EXPRESSIONS = {
    "division": (lambda a, b: a / b, [2.0, -0.8]),
    "subtraction-and-negation": (lambda a, b: -(a - b * 3.0), [0.6, 1.2]),
    "used-twice": (lambda a: a * a, [1.7]),
    "polynomial": (lambda a, b: a * b + a * a + a**3 - 2.0 * b, [0.9, -1.1]),
    "diamond": (lambda a, b: _tanh(a * b) * _exp(a * b) + a * b, [0.6, 0.5]),
    "neuron": (lambda x1, x2, w1, w2, b: _tanh(w1 * x1 + w2 * x2 + b), [2.0, 0.0, -3.0, 1.0, 0.88]),
    "softplus-ish": (lambda a: (1.0 + _exp(a)) ** 0.5 / (a * a + 1.0), [-0.3]),
}


@pytest.mark.task("1.1", points=1)
@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_expressions_chain_the_local_gradients(name):
    f, values = EXPRESSIONS[name]
    xs = [Scalar(v) for v in values]
    out = f(*xs)
    assert math.isclose(out.data, f(*values), rel_tol=1e-12, abs_tol=1e-15), (
        f"{name}: value {out.data}, expected {f(*values)}"
    )
    got = chained(out, xs)
    for i, g in enumerate(got):
        want = central(f, values, i)
        assert math.isclose(g, want, rel_tol=1e-6, abs_tol=1e-8), (
            f"{name}: the recorded graph gives d out / d input {i} = {g}, finite differences {want:.10g}"
        )


# ------------------------------------------------------------------------------------ 1.2 backward
class Graph:
    """A graph built with the Scalar constructor only, with local gradients drawn at random."""

    def __init__(self, n_leaves, seed):
        self.rng = np.random.default_rng(seed)
        self.leaves = [Scalar(self.rng.standard_normal()) for _ in range(n_leaves)]
        self.nodes = list(self.leaves)

    def node(self, *parents):
        local = [float(self.rng.uniform(0.5, 1.5) * self.rng.choice([-1, 1])) for _ in parents]
        n = Scalar(self.rng.standard_normal(), parents, local, "f")
        self.nodes.append(n)
        return n

    def derivative(self, out, wrt):
        """d out / d wrt (wrt's own inputs held fixed), by forward accumulation in creation order."""
        d = {id(n): 0.0 for n in self.nodes}
        d[id(wrt)] = 1.0
        for n in self.nodes:
            if n is not wrt and n.parents:
                d[id(n)] = sum(lg * d[id(p)] for p, lg in zip(n.parents, n.local_grads))
        return d[id(out)]


def _one_op(G):
    return G.node(*G.leaves)


def _used_twice(G):
    (a,) = G.leaves
    return G.node(a, a)  # a * a: both parents are a


def _used_by_two_nodes(G):
    a, b = G.leaves
    return G.node(G.node(a, b), G.node(a))


def _diamond(G):
    a, b = G.leaves
    c = G.node(a, b)  # c feeds two nodes: complete only after both have passed their gradient on
    return G.node(G.node(c), G.node(c), c)


def _wide(G):
    (a,) = G.leaves
    out = G.node(a)
    for _ in range(10):
        out = G.node(out, G.node(a))
    return out


def _deep_chain(G):
    (a,) = G.leaves
    out = a
    for i in range(300):
        out = G.node(out, a) if i % 50 == 0 else G.node(out)
    return out


def _random_dag(G):
    for _ in range(40):
        k = int(G.rng.integers(1, 4))
        picks = G.rng.choice(len(G.nodes), size=k)
        G.node(*[G.nodes[int(i)] for i in picks])
    return G.node(*G.nodes[-6:])


GRAPHS = {
    "one-op": (_one_op, 2),
    "used-twice": (_used_twice, 1),
    "used-by-two-nodes": (_used_by_two_nodes, 2),
    "diamond": (_diamond, 2),
    "wide": (_wide, 1),
    "deep-chain": (_deep_chain, 1),
    "random-dag": (_random_dag, 4),
}


@pytest.mark.task("1.2", points=2)
@pytest.mark.parametrize("name", list(GRAPHS))
def test_backward_fills_every_gradient(name):
    build, n_leaves = GRAPHS[name]
    G = Graph(n_leaves, seed=len(name))
    out = build(G)
    want = [G.derivative(out, leaf) for leaf in G.leaves]
    assert out.backward() is None, "backward returns None: it fills the .grad attributes"
    assert out.grad == 1.0, f"{name}: backward must set the output's grad to dL/dL = 1, got {out.grad}"
    got = [leaf.grad for leaf in G.leaves]
    for i, (g, w) in enumerate(zip(got, want)):
        assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12), (
            f"{name}: d out / d leaf {i} is {g}, expected {w} (all leaves: {got} vs {want})"
        )


@pytest.mark.task("1.2", points=1)
@pytest.mark.parametrize("name", ["used-by-two-nodes", "diamond", "random-dag"])
def test_backward_fills_the_intermediate_nodes_too(name):
    build, n_leaves = GRAPHS[name]
    G = Graph(n_leaves, seed=len(name))
    out = build(G)
    want = [G.derivative(out, node) for node in G.nodes]
    out.backward()
    for k, (node, w) in enumerate(zip(G.nodes, want)):
        assert math.isclose(node.grad, w, rel_tol=1e-9, abs_tol=1e-12), (
            f"{name}: node {k} of {len(G.nodes)} (leaves first) has grad {node.grad}, expected d out / d node = {w}"
        )


@pytest.mark.task("1.2", points=1)
def test_backward_of_a_lone_leaf_and_of_unrelated_scalars():
    a, other = Scalar(3.0), Scalar(5.0)
    a.backward()
    assert a.grad == 1.0, f"d a / d a = 1, got {a.grad}"
    assert other.grad == 0.0, "a Scalar outside the graph keeps grad 0"


# ------------------------------------------------------------------------------------ 1.3 Mul, Div
SHAPES = [(3, 4), (), (2, 3, 2)]


def _arrays(shape, seed, n):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


def _denominator(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # both signs, away from 0


@pytest.mark.task("1.3", points=1)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_mul_backward(shape):
    a, b, g = _arrays(shape, 1, 3)
    ga, gb = call_backward(Mul, (a, b), g, (True, True))
    want_a, want_b = expected("mul_vjp_reference", a, b, g)
    assert_close(ga, want_a, f"Mul: dL/da for shape {shape}", rtol=1e-6, atol=1e-8)
    assert_close(gb, want_b, f"Mul: dL/db for shape {shape}", rtol=1e-6, atol=1e-8)


@pytest.mark.task("1.3", points=1)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_div_backward(shape):
    a, g = _arrays(shape, 2, 2)
    b = _denominator(shape, 3)
    ga, gb = call_backward(Div, (b, a / b), g, (True, True), shape_a=a.shape)
    want_a, want_b = expected("div_vjp_reference", a, b, g)
    assert_close(ga, want_a, f"Div: dL/da for shape {shape}", rtol=1e-6, atol=1e-8)
    assert_close(gb, want_b, f"Div: dL/db for shape {shape}", rtol=1e-6, atol=1e-8)


@pytest.mark.task("1.3", points=1)
def test_mul_and_div_compute_only_what_is_asked_and_keep_float32():
    a, b, g = (v.astype(np.float32) for v in _arrays((2, 5), 4, 3))
    b = np.abs(b) + np.float32(0.5)
    for op, saved, extra in [(Mul, (a, b), {}), (Div, (b, a / b), {"shape_a": a.shape})]:
        for needs in [(True, False), (False, True)]:
            grads = call_backward(op, saved, g, needs, **extra)
            for k, (need, grad) in enumerate(zip(needs, grads)):
                if need:
                    assert grad is not None and grad.dtype == np.float32, (
                        f"{op.__name__}: the gradient of input {k} must keep float32, got {getattr(grad, 'dtype', None)}"
                    )
                else:
                    assert grad is None, (
                        f"{op.__name__}: input {k} needs no gradient (ctx.needs_input_grad): return None"
                    )


# ------------------------------------------------------------------------------------ 1.4 Exp, Tanh
UNARY = {"Exp": (Exp, np.exp), "Tanh": (Tanh, np.tanh)}


@pytest.mark.task("1.4", points=1)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_backward(op, shape):
    fn, f = UNARY[op]
    x, g = _arrays(shape, 5, 2)
    x = 1.5 * x  # tanh well into its curve, where 1 - y and 1 - y^2 differ
    (dx,) = call_backward(fn, (f(x),), g, (True,))
    assert_close(dx, expected("unary_vjp_reference", op, x, g), f"{op}: dL/dx for shape {shape}", rtol=1e-6, atol=1e-8)


@pytest.mark.task("1.4", points=1)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_backward_keeps_float32(op):
    fn, f = UNARY[op]
    x, g = (v.astype(np.float32) for v in _arrays((3, 4), 6, 2))
    (dx,) = call_backward(fn, (f(x),), g, (True,))
    assert dx.dtype == np.float32, f"{op}: dx must keep the input's dtype float32, got {dx.dtype}"
    want = expected("unary_vjp_reference", op, x.astype(np.float64), g)
    assert_close(dx, want, f"{op}: dL/dx in float32", rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------ 1.5 by hand
@pytest.mark.task("1.5", points=2)
@pytest.mark.parametrize("n", [1, 6])
def test_neuron_backward_by_hand(n):
    rng = np.random.default_rng(n)
    x, w, g = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
    b = np.asarray(rng.standard_normal())
    got = neuron_backward(x, w, b, g)
    assert len(got) == 3, "return (dx, dw, db)"
    dx, dw, db = got
    want = expected("neuron_vjp_reference", x, w, b, g)
    for what, grad, ref in zip(("dx", "dw", "db"), (dx, dw, db), want):
        assert_close(grad, ref, f"neuron_backward: {what}", rtol=1e-6, atol=1e-8)
