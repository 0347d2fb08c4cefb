"""Grader of assignment 16 (the GPU): 16.1 the ToDevice op, 16.2 Module.to.

    python -m lessons.grade --assignment a16        # points per task
    pytest lessons/a16_gpu --task 16.1              # one task, pytest's report

No GPU is needed: every test runs on ``npgpt.testing``'s stand-in for CuPy, a NumPy-backed
``cupy`` that refuses what CuPy refuses (a device array handed to NumPy, a NumPy array mixed into a
device operation). It is put on the path for each test and taken away after, so nothing else in
the session sees it. 16.1 calls the op's forward and backward directly and then once through
autograd; 16.2 moves the grader's own module tree, never a GPT.
"""

import sys

import numpy as np
import pytest

from lessons.grading import assert_close, call_backward
from npgpt import tensor
from npgpt.autograd import Context
from npgpt.backend import DeviceError
from npgpt.nn import Module, Parameter
from npgpt.ops.shape import ToDevice
from npgpt.testing import FAKE_CUPY


def _cupy_modules():
    return {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("cupy", "cupyx")}


@pytest.fixture
def cupy(monkeypatch):
    """The stand-in as ``cupy`` for one test (a real CuPy, if any, is set aside meanwhile)."""
    saved = _cupy_modules()
    for k in saved:
        del sys.modules[k]
    monkeypatch.syspath_prepend(str(FAKE_CUPY))
    import cupy as stand_in

    yield stand_in
    for k in _cupy_modules():
        del sys.modules[k]
    sys.modules.update(saved)


def on_gpu(a):
    return type(a).__module__.split(".")[0] == "cupy"


def on_cpu(a):
    return isinstance(a, np.ndarray)


# ----------------------------------------------------------------------------- 16.1 ToDevice
ARRAYS = [
    np.arange(12.0).reshape(3, 4) / 7,
    np.arange(10).reshape(2, 5),  # token ids: integers move too
    np.linspace(-1, 1, 6, dtype=np.float32),
]


@pytest.mark.task("16.1", points=1.5)
@pytest.mark.parametrize("x", ARRAYS, ids=["float64", "int64", "float32"])
def test_forward_copies_to_the_device_and_remembers_the_input_device(cupy, x):
    ctx = Context()
    y = ToDevice.forward(ctx, x, "cuda")
    assert on_gpu(y), f"ToDevice.forward(x on cpu, 'cuda') returned a {type(y).__module__} array, not a CuPy one"
    assert y.dtype == x.dtype and np.array_equal(cupy.asnumpy(y), x), "the copy on 'cuda' has other values or dtype"
    assert ctx.in_device == "cpu", f"ctx.in_device is {ctx.in_device!r} for an input on the cpu"

    ctx = Context()
    back = ToDevice.forward(ctx, cupy.asarray(x), "cpu")
    assert on_cpu(back), f"ToDevice.forward(x on cuda, 'cpu') returned a {type(back).__module__} array"
    assert back.dtype == x.dtype and np.array_equal(back, x), "the copy on 'cpu' has other values or dtype"
    assert ctx.in_device == "cuda", f"ctx.in_device is {ctx.in_device!r} for an input on cuda"

    ctx = Context()
    same = ToDevice.forward(ctx, x, "cpu")
    assert on_cpu(same) and np.array_equal(same, x) and ctx.in_device == "cpu", "cpu -> cpu must keep x's values"


@pytest.mark.task("16.1", points=1.5)
def test_backward_returns_the_gradient_on_the_input_device(cupy):
    g = np.random.default_rng(0).standard_normal((3, 4))
    (dx,) = call_backward(ToDevice, (), cupy.asarray(g), (True,), in_device="cpu")
    assert on_cpu(dx), f"the gradient of a cpu input came back as a {type(dx).__module__} array"
    assert_close(dx, g, "the gradient of x (input on cpu, output on cuda)")
    (dx,) = call_backward(ToDevice, (), g, (True,), in_device="cuda")
    assert on_gpu(dx), f"the gradient of a cuda input came back as a {type(dx).__module__} array"
    assert_close(cupy.asnumpy(dx), g, "the gradient of x (input on cuda, output on cpu)")


@pytest.mark.task("16.1", points=1)
def test_a_loss_on_the_gpu_reaches_a_parameter_on_the_cpu(cupy):
    w = tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    c = np.random.default_rng(1).standard_normal((2, 3))
    try:
        loss = (w.to("cuda") * tensor(cupy.asarray(c))).sum()  # computed on the device
        loss.backward()
    except (TypeError, DeviceError) as e:  # npgpt and CuPy refuse to mix devices in one operation
        raise AssertionError(f"w.to('cuda') or its backward left an array on the wrong device: {e}") from None
    assert on_cpu(w.grad), f"w lives on the cpu but w.grad is a {type(w.grad).__module__} array"
    assert_close(w.grad, c, "dL/dw for L = sum(w.to('cuda') * c)")


# ----------------------------------------------------------------------------- 16.2 Module.to
class Leaf(Module):
    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = Parameter(rng.standard_normal((2, 3)))
        self.register_buffer("table", rng.standard_normal(5))  # like the sinusoidal table
        self.register_buffer("ids", np.arange(4))  # an integer buffer
        self.register_buffer("unused", None)


class Middle(Module):
    def __init__(self):
        super().__init__()
        self.leaf = Leaf(1)
        self.v = Parameter(np.ones(4))


class Tree(Module):
    def __init__(self):
        super().__init__()
        self.b = Parameter(np.zeros(3))
        self.middle = Middle()
        self.other = Leaf(2)
        self.register_buffer("scale", np.array([2.0]))


def buffers(model):
    return [(m, name) for m in model.modules() for name in m._buffers]


@pytest.mark.task("16.2", points=2)
def test_every_parameter_moves_and_stays_the_same_object(cupy):
    model = Tree()
    before = [(id(p), p.data.copy()) for p in model.parameters()]
    assert model.to("cuda") is model, "Module.to must return the module"
    after = list(model.parameters())
    assert [id(p) for p in after] == [i for i, _ in before], "Module.to replaced Parameter objects (keep them)"
    for (_, want), p in zip(before, after):
        assert on_gpu(p.data), f"a parameter of shape {want.shape} is still a {type(p.data).__module__} array"
        assert_close(cupy.asnumpy(p.data), want, f"the values of the parameter of shape {want.shape} after the move")
    model.to("cpu")
    assert all(on_cpu(p.data) for p in model.parameters()), "model.to('cpu') left parameters on the device"


@pytest.mark.task("16.2", points=1.5)
def test_existing_gradients_move_with_their_parameters(cupy):
    model = Tree()
    params = list(model.parameters())
    for i, p in enumerate(params):
        p.grad = None if i == 1 else np.full(p.shape, float(i + 1))
    model.to("cuda")
    for i, p in enumerate(params):
        if i == 1:
            assert p.grad is None, "a parameter without a gradient must keep grad None"
        else:
            assert on_gpu(p.grad), f"the gradient of parameter {i} stayed a {type(p.grad).__module__} array"
            assert_close(cupy.asnumpy(p.grad), np.full(p.shape, float(i + 1)), f"the gradient of parameter {i}")


@pytest.mark.task("16.2", points=2)
def test_buffers_move_in_the_registry_and_in_the_attribute(cupy):
    model = Tree()
    want = {(id(m), name): (None if b is None else b.copy()) for m in model.modules() for name, b in m._buffers.items()}
    model.to("cuda")
    for m, name in buffers(model):
        b, expected = m._buffers[name], want[(id(m), name)]
        where = f"buffer {name!r} of a {type(m).__name__}"
        if expected is None:
            assert b is None and getattr(m, name) is None, f"{where} was None and must stay None"
            continue
        assert on_gpu(b), f"{where} is still a {type(b).__module__} array in m._buffers"
        assert getattr(m, name) is b, f"{where}: the attribute m.{name} does not give the moved array"
        assert b.dtype == expected.dtype and np.array_equal(cupy.asnumpy(b), expected), f"{where} changed its values"


@pytest.mark.task("16.2", points=0.5)
def test_a_dtype_conversion_goes_through_the_same_code(cupy):
    model = Tree().to("cuda").to(np.float32)
    assert all(p.dtype == np.float32 and on_gpu(p.data) for p in model.parameters()), "parameters after .to(float32)"
    assert model.other.ids.dtype.kind == "i" and model.other.table.dtype == np.float32, "buffers after .to(float32)"
