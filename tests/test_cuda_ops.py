"""The same ops on the GPU (CuPy): gradient checks, and CPU == GPU in float64.

Tests that need CuPy and a GPU skip with one clear reason when either is missing. The first tests
need neither: importing npgpt must not import CuPy, and asking for "cuda" without CuPy must say how
to install it.
"""

import subprocess
import sys

import numpy as np
import pytest
from conftest import make_inputs, op_cases, requires_cuda

import npgpt
from npgpt.backend import DeviceError, xp_for_device

FWD_TOL = dict(rtol=1e-12, atol=1e-12)


def _random(op, case):  # masks drawn by CuPy's generator differ from NumPy's
    return "dropout" in f"{op.__name__} {case.name}".lower()


# ----------------------------------------------------------------------- no GPU needed
def test_import_does_not_import_cupy():
    code = (
        "import sys, npgpt, npgpt.functional, npgpt.ops, npgpt.gradcheck; "
        "t = npgpt.tensor([1.0], requires_grad=True); (t * 2).sum().backward(); "
        "assert 'cupy' not in sys.modules, 'npgpt imported cupy at load time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cuda_without_cupy_names_the_install_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    assert not npgpt.cuda_available()
    with pytest.raises(DeviceError, match=r"npgpt\[cuda12\]"):
        npgpt.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(DeviceError, match="CuPy"):
        npgpt.tensor([1.0, 2.0]).to("cuda")
    with pytest.raises(DeviceError, match="not installed"):
        xp_for_device("cuda")


# ----------------------------------------------------------------------- GPU
@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("op, case", op_cases())
def test_gradcheck_on_cuda(op, case):
    cp = xp_for_device("cuda")
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case, cp)]
    assert all(t.device == "cuda" for t in inputs)
    report = npgpt.gradcheck(case.fn, inputs)
    assert report.ok, f"{op.__name__} {case.name} on cuda:\n{report}"


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("op, case", op_cases(lambda op, case: not _random(op, case)))
def test_cuda_matches_cpu(op, case):
    cp = xp_for_device("cuda")
    results = {}
    for dev, xp in [("cpu", np), ("cuda", cp)]:
        inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case, xp)]
        out = case.fn(*inputs)
        assert out.device == dev and out.dtype == np.float64
        u = xp.asarray(np.random.default_rng(1).standard_normal(out.shape))
        out.backward(u)
        for t in inputs:
            assert t.grad is not None and t.grad.dtype == np.float64
            assert (dev == "cuda") == (type(t.grad).__module__.split(".")[0] == "cupy")
        results[dev] = [out.numpy()] + [npgpt.Tensor(t.grad).numpy() for t in inputs]
    for k, (a, b) in enumerate(zip(results["cpu"], results["cuda"])):
        np.testing.assert_allclose(b, a, **FWD_TOL, err_msg="forward" if k == 0 else f"gradient of input {k - 1}")


@pytest.mark.cuda
@requires_cuda
def test_to_cuda_round_trip_is_differentiable():
    x = npgpt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda" and y.requires_grad and y.to("cuda") is y
    z = (y * y).exp().to("cpu")
    assert z.device == "cpu"
    z.sum().backward()
    assert isinstance(x.grad, np.ndarray)  # the gradient came back to the leaf's device
    np.testing.assert_allclose(x.grad, 2 * x.data * np.exp(x.data**2), rtol=1e-12)
    np.testing.assert_array_equal(y.numpy(), x.data)
    w = npgpt.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    (w * 3).sum().backward()
    assert type(w.grad).__module__.split(".")[0] == "cupy"


@pytest.mark.cuda
@requires_cuda
def test_mixed_devices_raise():
    a = npgpt.tensor([1.0, 2.0], device="cuda")
    b = npgpt.tensor([3.0, 4.0])
    with pytest.raises(DeviceError, match=r"Add: inputs are on different devices.*cuda.*cpu"):
        a + b
    with pytest.raises(DeviceError, match="MatMul"):
        a @ b
