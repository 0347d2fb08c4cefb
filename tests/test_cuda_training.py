"""The GPU path of a whole model: same numbers as the CPU, and no host<->device copies in a step.

A training step here is forward + backward + gradient clipping + AdamW with the batch already on
the device. Device-to-host copies synchronise, so ``cupyx.allow_synchronize(False)`` turns any of
them into an error; host-to-device copies go through ``cupy.asarray``/``cupy.array``, which are
counted. All skip cleanly without CuPy and a GPU.
"""

import numpy as np
import pytest
from conftest import requires_cuda

from npgpt.nn import GPT, GPTConfig
from npgpt.optim import AdamW, clip_grad_norm_

pytestmark = [pytest.mark.cuda, requires_cuda]

CFG = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)


def _batch(seed=0, B=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, CFG.vocab_size, (B, CFG.block_size)), rng.integers(0, CFG.vocab_size, (B, CFG.block_size))


def _step(model, opt, x, y):
    _, loss = model(x, y)
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def test_gpu_model_matches_cpu_in_float64():
    import cupy

    cpu = GPT(CFG, rng=0, dtype=np.float64)
    gpu = GPT(CFG, rng=0, dtype=np.float64).to("cuda")
    x, y = _batch()
    lc, lg = cpu(x, y)[1], gpu(cupy.asarray(x), cupy.asarray(y))[1]
    lc.backward()
    lg.backward()
    assert abs(lc.item() - lg.item()) < 1e-12
    for (name, pc), (_, pg) in zip(cpu.named_parameters(), gpu.named_parameters()):
        np.testing.assert_allclose(cupy.asnumpy(pg.grad), pc.grad, rtol=1e-9, atol=1e-12, err_msg=name)


def test_training_step_makes_no_host_device_copies(monkeypatch):
    import cupy
    import cupyx

    model = GPT(CFG, rng=0).to("cuda")
    opt = AdamW(model.parameters(), lr=1e-3)
    x, y = (cupy.asarray(a) for a in _batch())
    _step(model, opt, x, y)  # warm-up: masks and optimizer buffers are made once
    cupy.cuda.Device().synchronize()

    uploads = []
    for name in ("asarray", "array"):
        real = getattr(cupy, name)

        def counting(obj, *args, _real=real, **kwargs):
            if isinstance(obj, (np.ndarray, list, tuple)):
                uploads.append(type(obj).__name__)
            return _real(obj, *args, **kwargs)

        monkeypatch.setattr(cupy, name, counting)
    with cupyx.allow_synchronize(False):  # a device-to-host copy would raise here
        for _ in range(3):
            _step(model, opt, x, y)
    cupy.cuda.Device().synchronize()
    assert uploads == []


def test_generation_on_gpu_matches_cpu():
    cpu = GPT(CFG, rng=1, dtype=np.float64)
    gpu = GPT(CFG, rng=1, dtype=np.float64).to("cuda")
    prompt = np.array([[1, 2, 3]])
    a = cpu.generate(prompt, 12, temperature=0)
    b = gpu.generate(prompt, 12, temperature=0)
    np.testing.assert_array_equal(a, b.get())
