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


def test_chat_stages_on_gpu_match_cpu(tmp_path):
    """sft, reward, rl and dpo with ``device="cuda"``: the numbers of the same runs on the CPU.

    The base model is float64, so the GPU's other summation order changes nothing a test can see
    and RL samples the same replies (the uniform draws come from the same NumPy generator)."""
    from npgpt.chat.dpo import DPOConfig, dpo
    from npgpt.chat.reward import RewardConfig, train_reward
    from npgpt.chat.rl import RLConfig, rl
    from npgpt.chat.sft import SFTConfig, sft
    from npgpt.train import TrainConfig, train

    quiet = lambda *a: None  # noqa: E731
    small = dict(n_layer=1, n_head=2, n_embd=16, block_size=64, dtype="float64", max_steps=4, warmup_steps=1)
    train(
        TrainConfig(
            out_dir=str(tmp_path / "base"), eval_interval=4, eval_batches=1, progress=False, sample_chars=0, **small
        ),
        log=quiet,
    )
    got = {}
    for dev in ("cpu", "cuda"):
        d = tmp_path / dev
        s = sft(
            SFTConfig(
                init_from=str(tmp_path / "base/checkpoint"),
                out_dir=str(d / "sft"),
                max_steps=3,
                batch_size=4,
                eval_questions=4,
                device=dev,
            ),
            quiet,
        )
        r = train_reward(
            RewardConfig(
                init_from=str(d / "sft/checkpoint"), out_dir=str(d / "rm"), max_steps=2, batch_size=4, device=dev
            ),
            quiet,
        )
        p = rl(
            RLConfig(
                init_from=str(d / "sft/checkpoint"),
                reward_model=str(d / "rm/checkpoint"),
                out_dir=str(d / "rl"),
                max_steps=2,
                prompts=2,
                samples=2,
                max_new_tokens=8,
                eval_questions=2,
                device=dev,
            ),
            quiet,
        )
        o = dpo(
            DPOConfig(
                init_from=str(d / "sft/checkpoint"),
                out_dir=str(d / "dpo"),
                max_steps=2,
                batch_size=4,
                eval_questions=2,
                device=dev,
            ),
            quiet,
        )
        got[dev] = [
            s["loss"],
            s["accuracy"],
            r["loss"],
            r["pairwise_accuracy"],
            p["reward"],
            p["kl"],
            p["accuracy"],
            o["loss"],
            o["accuracy"],
        ]
    for a, b in zip(got["cpu"], got["cuda"]):
        if isinstance(a, float):
            assert b == pytest.approx(a, rel=1e-9, abs=1e-12)
        else:
            assert a == b
