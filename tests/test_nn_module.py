"""Module / Parameter bookkeeping: registration, traversal, state dicts, modes, dtype and device."""

import numpy as np
import pytest

import npgpt
from npgpt.nn import GELU, Linear, Module, ModuleDict, ModuleList, Parameter
from npgpt.optim import SGD


class Tiny(Module):
    def __init__(self, rng=0):
        super().__init__()
        self.fc1 = Linear(3, 4, rng=rng)
        self.act = GELU()
        self.fc2 = Linear(4, 2, bias=False, rng=rng)
        self.scale = Parameter(np.ones(2, dtype=np.float32))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameter_is_a_leaf_that_requires_grad():
    p = Parameter(np.zeros((2, 3), dtype=np.float32))
    assert isinstance(p, npgpt.Tensor) and p.requires_grad and p.is_leaf
    assert "Parameter containing" in repr(p)


def test_registration_order_and_names():
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(m.children()) == [m.fc1, m.act, m.fc2]
    assert m.num_parameters() == 2 + 4 * 3 + 4 + 2 * 4
    assert m.fc2.bias is None


def test_reassigning_replaces_and_deleting_removes():
    m = Tiny()
    m.fc1 = Linear(3, 4, bias=False, rng=1)
    assert "fc1.bias" not in dict(m.named_parameters())
    del m.act
    assert "act" not in dict(m.named_modules())
    m.fc2 = "not a module any more"
    assert "fc2.weight" not in dict(m.named_parameters())


def test_shared_parameter_listed_once():
    a, b = Linear(3, 3, rng=0), Linear(3, 3, rng=1)
    b.weight = a.weight
    m = ModuleList([a, b])
    assert len(list(m.parameters())) == 3
    assert m.num_parameters() == 9 + 3 + 3
    assert "1.weight" not in dict(m.named_parameters())


def test_assigning_before_super_init_is_a_clear_error():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_module_list_and_dict():
    ml = ModuleList([Linear(2, 2, rng=0) for _ in range(3)])
    assert len(ml) == 3 and [n for n, _ in ml.named_children()] == ["0", "1", "2"]
    assert isinstance(ml[-1], Linear) and len(ml[1:]) == 2
    with pytest.raises(TypeError):
        ml.append("x")
    md = ModuleDict({"a": Linear(2, 2, rng=0)})
    md["b"] = GELU()
    assert "b" in md and list(md.keys()) == ["a", "b"] and len(md) == 2


def test_call_is_forward_and_backward_reaches_parameters():
    m = Tiny()
    x = npgpt.tensor(np.random.default_rng(0).standard_normal((5, 3)), dtype=np.float32)
    y = m(x)
    assert y.shape == (5, 2)
    y.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_train_eval_propagates():
    m = Tiny()
    assert m.training and m.fc1.training
    assert m.eval() is m
    assert not any(s.training for s in m.modules())
    m.train()
    assert all(s.training for s in m.modules())


def test_state_dict_round_trip_in_place():
    a, b = Tiny(rng=0), Tiny(rng=1)
    sd = a.state_dict()
    assert list(sd) == [n for n, _ in a.named_parameters()]
    assert sd["fc1.weight"] is a.fc1.weight.data  # the parameter's array, not a copy
    arrays_before = [p.data for p in b.parameters()]
    b.load_state_dict({k: v.copy() for k, v in sd.items()})
    for (n, p), arr in zip(b.named_parameters(), arrays_before):
        assert p.data is arr, f"{n}: load_state_dict must copy in place"
        np.testing.assert_array_equal(p.data, sd[n])


def test_load_state_dict_keeps_an_optimizer_working():
    m = Tiny(rng=0)
    opt = SGD(m.parameters(), lr=0.1)
    m.load_state_dict(Tiny(rng=3).state_dict())
    target = m.fc1.weight.data.copy()
    x = npgpt.tensor(np.ones((2, 3), dtype=np.float32))
    m(x).sum().backward()
    opt.step()
    assert not np.array_equal(m.fc1.weight.data, target)  # the optimizer updated the model's array


def test_load_state_dict_converts_dtype_and_accepts_tensors():
    m = Tiny()
    sd = {k: npgpt.tensor(v.astype(np.float64), dtype=np.float64) for k, v in Tiny(rng=5).state_dict().items()}
    m.load_state_dict(sd)
    assert all(p.dtype == np.float32 for p in m.parameters())
    np.testing.assert_allclose(m.fc1.weight.data, sd["fc1.weight"].data, rtol=1e-6)


def test_load_state_dict_errors_list_every_problem():
    m = Tiny()
    sd = dict(m.state_dict())
    del sd["fc1.bias"]
    sd["fc3.weight"] = np.zeros((1,))
    sd["fc2.weight"] = np.zeros((5, 5))
    before = m.fc1.weight.data.copy()
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys (1): fc1.bias" in msg and "unexpected keys (1): fc3.weight" in msg
    assert "fc2.weight: checkpoint (5, 5) vs model (2, 4)" in msg
    np.testing.assert_array_equal(m.fc1.weight.data, before)  # nothing copied
    # only missing / unexpected: an error when strict, reported when not
    sd["fc2.weight"] = m.fc2.weight.data.copy()
    with pytest.raises(ValueError, match="missing keys"):
        m.load_state_dict(sd)
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["fc3.weight"]


def test_to_dtype_rebinds_data_on_same_parameters():
    m = Tiny()
    params = list(m.parameters())
    x = np.random.default_rng(1).standard_normal((4, 3))
    y32 = m(npgpt.tensor(x, dtype=np.float32)).numpy()
    m(npgpt.tensor(x, dtype=np.float32)).sum().backward()
    assert m.double() is m
    assert list(m.parameters()) == params and all(p.dtype == np.float64 for p in params)
    assert all(p.grad.dtype == np.float64 for p in params)
    y64 = m(npgpt.tensor(x, dtype=np.float64)).numpy()
    np.testing.assert_allclose(y64, y32, rtol=1e-5, atol=1e-6)
    m.to("cpu").float()
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(TypeError, match="floating"):
        m.to(np.int32)
    with pytest.raises(npgpt.DeviceError):
        m.to("tpu")


def test_buffers_follow_to_but_stay_out_of_state_dict():
    class WithBuffer(Module):
        def __init__(self):
            super().__init__()
            self.lin = Linear(2, 2, rng=0)
            self.register_buffer("table", np.arange(4, dtype=np.float32))
            self.register_buffer("index", np.arange(4))

    m = WithBuffer()
    assert "table" not in m.state_dict()
    m.double()
    assert m.table.dtype == np.float64 and m.index.dtype == np.arange(1).dtype
    assert dict(m.named_buffers())["table"] is m.table


def test_requires_grad_toggle_and_repr():
    m = Tiny()
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    r = repr(m)
    assert r.startswith("Tiny(") and "(fc1): Linear(in_features=3, out_features=4, bias=True)" in r
    assert "(act): GELU(approximate='tanh')" in r


def test_init_is_deterministic_given_a_seed():
    a, b, c = Tiny(rng=7), Tiny(rng=7), Tiny(rng=8)
    for (n, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        if n != "scale":
            assert not np.array_equal(p.data, r.data)
