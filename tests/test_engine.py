"""Engine invariants: how ``Tensor.backward`` walks, accumulates and frees the graph.

Each op's own backward is checked in test_ops_gradcheck.py; here the walk around the ops is.
"""

import gc
import weakref

import numpy as np
import pytest
from conftest import make_inputs, op_cases

import npgpt
import npgpt.functional as F
from npgpt.autograd import Context, Function


def leaf(shape=(3, 4), seed=0, dtype=np.float64):
    return npgpt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


# ----------------------------------------------------------------------- graph shapes
def test_node_used_twice_sums_both_paths():
    x = leaf()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data, rtol=0, atol=0)


def test_same_tensor_as_both_inputs_of_several_ops():
    x = leaf()
    y = (x + x) * x - x / (x * x + 1)  # 2x^2 - x / (x^2 + 1)
    y.sum().backward()
    a = x.data
    np.testing.assert_allclose(x.grad, 4 * a - (1 - a * a) / (a * a + 1) ** 2, rtol=1e-12)


def test_diamond_graph():
    # a feeds two branches that join again: grad(a) = sum of both branch grads
    x = leaf()
    a = x * 2.0
    b = a.exp()
    c = a.tanh()
    (b * c).sum().backward()
    av = 2 * x.data
    da = np.exp(av) * np.tanh(av) + np.exp(av) * (1 - np.tanh(av) ** 2)
    np.testing.assert_allclose(x.grad, 2 * da, rtol=1e-12)


def test_deep_chain_no_recursion_limit():
    n = 10_000
    x = npgpt.tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(2, 1.0001**n), rtol=1e-10)
    del y
    # a deep graph that is dropped without backward must also be freed without overflowing the stack
    z = x
    for _ in range(n):
        z = z + 1e-4
    r = weakref.ref(z)
    del z
    gc.collect()
    assert r() is None


def test_deep_chain_grad_of_branching_ladder():
    # every step uses the previous value twice: y_{k+1} = y_k + y_k * 1e-3, so dy_n/dx = (1.001)^n
    x = npgpt.tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y + y * 1e-3
    y.backward()
    np.testing.assert_allclose(x.grad, 1.001**3000, rtol=1e-10)


# ----------------------------------------------------------------------- nothing is mutated
@pytest.mark.parametrize("op, case", op_cases())
def test_backward_mutates_neither_inputs_nor_upstream_grad(op, case):
    arrays = make_inputs(case)
    copies = [a.copy() for a in arrays]
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*inputs)
    out_copy = np.array(out.data, copy=True)
    g = np.random.default_rng(1).standard_normal(out.shape)
    g_copy = g.copy()
    out.backward(g, retain_graph=True)
    first = [t.grad.copy() for t in inputs]
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg=f"{op.__name__} {case.name} modified an input")
    np.testing.assert_array_equal(g, g_copy, err_msg=f"{op.__name__} {case.name} modified the upstream grad")
    np.testing.assert_array_equal(out.data, out_copy, err_msg=f"{op.__name__} {case.name} modified its output")
    # the saved arrays survive a first backward intact: a second one adds exactly the same gradients
    out.backward(g)
    for t, f in zip(inputs, first):
        np.testing.assert_allclose(
            t.grad, 2 * f, rtol=1e-14, atol=0, err_msg=f"{op.__name__} {case.name}: second backward differs"
        )


def test_grad_is_a_plain_array_of_the_leaf_dtype_and_shape():
    x = npgpt.tensor(np.array(2.0, dtype=np.float32), requires_grad=True)
    (x.exp() * x).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == np.float32
    w = leaf((2, 3), dtype=np.float32)
    (w * 3).sum().backward()
    assert type(w.grad) is np.ndarray and w.grad.shape == (2, 3) and w.grad.dtype == np.float32


def test_leaf_grad_does_not_alias_other_grads():
    # Add returns the same upstream array for both inputs; each leaf must get its own copy
    a, b = leaf(seed=1), leaf(seed=2)
    (a + b).backward(np.ones((3, 4)))
    a.grad[0, 0] = 99.0
    assert b.grad[0, 0] == 1.0


# ----------------------------------------------------------------------- graph lifetime
def test_graph_freed_after_backward():
    x = leaf()
    h = x.exp()
    y = (h.gelu() * 2).sum()
    r = weakref.ref(h)
    ctx = y._ctx
    gelu_node = y._ctx.inputs[0]._ctx.inputs[0]  # y = sum(mul(gelu_out, 2)): graph nodes, not tensors
    gelu_saved = weakref.ref(gelu_node._ctx.saved_tensors[0])  # the input array GELU's forward saved
    del h, gelu_node
    # the graph links nodes, not tensors: an intermediate tensor nobody holds is gone at once,
    # while the arrays the ops saved for backward stay until backward has used them
    assert r() is None, "the graph kept an intermediate tensor (and its data) alive"
    assert gelu_saved() is not None
    y.backward()
    assert gelu_saved() is None, "a saved array outlived backward"
    assert ctx.saved_tensors is None and ctx.inputs is None
    assert x.grad is not None


def test_graph_keeps_only_saved_arrays():
    # the sum of a product saves nothing; the product's output must not be kept by the graph
    x = leaf()
    prod = x * 3.0
    out = weakref.ref(prod.data)
    y = prod.sum()
    del prod
    assert out() is None
    y.backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 3.0))


def test_second_backward_without_retain_raises():
    x = leaf()
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_second_backward_accumulates():
    # as in PyTorch: the leaf's .grad is summed over calls, so it doubles
    x = leaf()
    y = (x.tanh() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_leaf_grad_accumulates_across_graphs_until_reset():
    x = leaf()
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 7.0))
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 5.0))


def test_only_requires_grad_inputs_get_grads():
    x, c = leaf(seed=1), npgpt.tensor(np.ones((3, 4)))
    y = (x * c + c).sum()
    y.backward()
    assert c.grad is None and x.grad is not None


def test_needs_input_grad_reflects_requires_grad():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None

    x, c = leaf(), npgpt.tensor(np.ones((3, 4)))
    Probe.apply(x, c).sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_array_equal(x.grad, np.ones((3, 4)))


def _op_contexts(out):
    """Every (context, output shape) in the graph of ``out``."""
    found, todo, seen = [], [out], set()
    while todo:
        node = todo.pop()
        ctx = node._ctx
        if ctx is None or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        found.append((ctx, node.shape))
        todo.extend(ctx.inputs)
    return found


def _holds_array(value):
    if isinstance(value, np.ndarray):
        return True
    return isinstance(value, (tuple, list)) and any(_holds_array(v) for v in value)


@pytest.mark.parametrize("op, case", op_cases())
def test_arrays_reach_backward_only_through_save_for_backward(op, case):
    # what ctx holds besides saved_tensors is plain metadata (shapes, axes, flags), so that freeing
    # saved_tensors after backward frees every array the op kept
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case)]
    out = case.fn(*inputs)
    contexts = _op_contexts(out)
    assert any(ctx.fn is op for ctx, _ in contexts)
    for ctx, _ in contexts:
        parked = [k for k, v in vars(ctx).items() if _holds_array(v)]
        assert not parked, f"{ctx.fn.__name__} keeps arrays on ctx outside saved_tensors: {parked}"
    out.backward(np.ones(out.shape))
    assert all(ctx.saved_tensors is None for ctx, _ in contexts)


MULTI_INPUT_CASES = op_cases(lambda op, case: len(make_inputs(case)) > 1)


@pytest.mark.parametrize("op, case", MULTI_INPUT_CASES)
def test_backward_skips_the_gradients_nobody_needs(op, case):
    # with one input requiring grad at a time, the op's backward returns None for the others
    arrays = make_inputs(case)
    for k in range(len(arrays)):
        out = case.fn(*[npgpt.Tensor(a, requires_grad=i == k) for i, a in enumerate(arrays)])
        for ctx, shape in _op_contexts(out):
            if ctx.fn is not op:
                continue
            grads = op.backward(ctx, np.ones(shape))
            for i, (need, g) in enumerate(zip(ctx.needs_input_grad, grads)):
                assert need or g is None, f"{op.__name__} computed a gradient for input {i}, which needs none"


# ----------------------------------------------------------------------- no_grad
def test_no_grad_builds_nothing():
    x = leaf()
    with npgpt.no_grad():
        assert not npgpt.is_grad_enabled()
        h = x.exp()
        y = (h * x).sum()
    assert npgpt.is_grad_enabled()
    assert y._ctx is None and h._ctx is None
    assert not y.requires_grad and not h.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_keeps_no_references():
    x = leaf()
    with npgpt.no_grad():
        h = x.exp()
        y = h * 2
        r = weakref.ref(h)
        del h
    assert r() is None
    assert y._ctx is None


def test_no_grad_as_decorator_and_nesting():
    @npgpt.no_grad()
    def f(t):
        assert not npgpt.is_grad_enabled()
        return t * 2

    x = leaf()
    assert not f(x).requires_grad
    assert npgpt.is_grad_enabled()
    with npgpt.no_grad():
        with npgpt.no_grad():
            pass
        assert not npgpt.is_grad_enabled()  # the inner exit restores the outer state
    assert npgpt.is_grad_enabled()


def test_no_grad_restored_after_exception():
    with pytest.raises(ZeroDivisionError):
        with npgpt.no_grad():
            _ = 1 / 0
    assert npgpt.is_grad_enabled()


# ----------------------------------------------------------------------- Tensor basics
def test_bool_of_one_element_tensor_converts():
    assert bool(npgpt.tensor(2.0)) and not bool(npgpt.tensor([0.0]))
    assert bool(npgpt.tensor([[1.0]]) == npgpt.tensor(1.0))
    assert not (npgpt.tensor([3.0]) > 4.0)


@pytest.mark.parametrize("data", [[1.0, 2.0], [], [[1.0], [1.0]]])
def test_bool_of_larger_or_empty_tensor_is_ambiguous(data):
    t = npgpt.tensor(data)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t == t)  # elementwise, as in PyTorch: not one truth value


def test_detach_shares_data_and_cuts_the_graph():
    x = leaf()
    d = (x * 2).detach()
    assert d._ctx is None and not d.requires_grad
    y = x * 2
    assert np.shares_memory(y.detach().data, y.data)
    (x * d).sum().backward()  # d is a constant: grad = d
    np.testing.assert_allclose(x.grad, d.data)


def test_item_and_numpy():
    x = npgpt.tensor([[2.5]])
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert npgpt.tensor(3).item() == 3
    with pytest.raises(ValueError, match="4 elements"):
        npgpt.tensor([1.0, 2.0, 3.0, 4.0]).item()
    a = np.arange(6.0).reshape(2, 3)
    t = npgpt.tensor(a)
    assert isinstance(t.numpy(), np.ndarray) and np.shares_memory(t.numpy(), t.data)
    np.testing.assert_array_equal(np.asarray(t), a)
    assert t.tolist() == a.tolist()


def test_backward_on_non_scalar_needs_grad():
    x = leaf()
    y = x * 2
    with pytest.raises(RuntimeError, match=r"one-element.*\(3, 4\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad shape \(4,\) != tensor shape \(3, 4\)"):
        y.backward(np.ones(4))
    y.backward(npgpt.tensor(np.ones((3, 4))))  # a Tensor upstream gradient is fine
    np.testing.assert_array_equal(x.grad, np.full((3, 4), 2.0))


def test_one_element_non_scalar_backward_defaults_to_one():
    x = leaf((1, 1))
    (x * 3).backward()
    np.testing.assert_array_equal(x.grad, [[3.0]])


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(TypeError, match="floating-point"):
        npgpt.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        npgpt.tensor([1, 2, 3]).requires_grad_()


def test_comparisons_and_argmax_are_not_differentiable():
    x = leaf()
    for r in [x > 0, x < 0, x >= 0.1, x <= x, x == x, x != 0, (x * 2) > x]:
        assert r.dtype == np.bool_ and not r.requires_grad and r._ctx is None
    am = (x * 2).argmax(axis=-1)
    assert am.dtype.kind == "i" and not am.requires_grad and am._ctx is None
    np.testing.assert_array_equal(am.data, x.data.argmax(-1))
    assert x.argmax().shape == ()


def test_default_dtypes():
    assert npgpt.tensor(1.5).dtype == np.float32
    assert npgpt.tensor([1.0, 2.0]).dtype == np.float32
    assert npgpt.tensor([[1, 2]]).dtype.kind == "i"
    assert npgpt.tensor(np.zeros(2)).dtype == np.float64  # arrays keep their dtype
    assert npgpt.tensor([1.0], dtype=np.float64).dtype == np.float64
    x = npgpt.tensor([1.0, 2.0], requires_grad=True)
    assert (x * 2.5).dtype == np.float32 and (2.5 * x).dtype == np.float32 and (x**2.0).dtype == np.float32


def test_to_float64_is_differentiable():
    x = npgpt.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y.exp() * 2).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.numpy().astype(np.float64)), rtol=1e-6)
    assert x.double().float().dtype == np.float32


def test_leaf_and_op_output_flags():
    x = leaf()
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.requires_grad and isinstance(y._ctx, Context)
    c = npgpt.tensor(np.ones(3))
    assert not (c * 2).requires_grad and (c * 2)._ctx is None  # nothing to differentiate: no graph


def test_wrong_backward_shape_is_caught_with_op_name():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return (g.sum(axis=0),)

    with pytest.raises(RuntimeError, match=r"BadShape.backward.*shape \(4,\).*input 0 of shape \(3, 4\)"):
        BadShape.apply(leaf()).sum().backward()


def test_wrong_number_of_backward_grads_is_caught():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return (g,)

    with pytest.raises(RuntimeError, match="TooFew.backward returned 1 gradients for 2 inputs"):
        TooFew.apply(leaf(), leaf(seed=1)).sum().backward()


def test_backward_upcast_is_caught():
    class Upcast(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return (g.astype(np.float64) * 2,)

    with pytest.raises(RuntimeError, match="float64 for input 0 of shape.*float32"):
        Upcast.apply(leaf(dtype=np.float32)).sum().backward()


def test_composite_model_step_matches_finite_differences():
    # a tiny two-layer MLP with cross-entropy, as a whole graph
    rng = np.random.default_rng(0)
    x = npgpt.tensor(rng.standard_normal((5, 4)))
    w1, b1 = leaf((6, 4), 1), leaf((6,), 2)
    w2, b2 = leaf((3, 6), 3), leaf((3,), 4)
    t = np.array([0, 2, 1, 1, 0])

    def loss(w1, b1, w2, b2):
        h = F.linear(x, w1, b1).gelu()
        return F.cross_entropy(F.linear(F.layer_norm(h, npgpt.tensor(np.ones(6))), w2, b2), t)

    assert npgpt.gradcheck(loss, [w1, b1, w2, b2]).ok
