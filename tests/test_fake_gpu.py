"""The CUDA code path, run without a GPU: every CUDA test against a strict stand-in for CuPy.

The CUDA tests skip on a machine without a GPU, CI's included, so a slip in the GPU path (a NumPy
call on a device array, a host read in the training step) could hide until someone has a GPU.
``npgpt.testing.FAKE_CUPY`` is a stand-in for CuPy backed by NumPy that refuses what CuPy refuses
(see ``npgpt/testing/__init__.py``). Here it goes first on the path of child processes: the CUDA tests run against it and
must all pass, none skipped; the stand-in must refuse a planted NumPy call; and the command line
trains, resumes, samples, fine-tunes, chats and benchmarks on ``--device cuda``. It checks how the code treats device
arrays, not CuPy's coverage of NumPy, its numbers or its speed: ``tools/gpu_check.sh`` is the check
on a real GPU.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from npgpt.backend import cuda_available
from npgpt.testing import fake_gpu_env

ROOT = Path(__file__).resolve().parents[1]


def run(argv, cwd=ROOT, timeout=600, input=None, fake=True):  # noqa: A002
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env = fake_gpu_env(env) if fake else env
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input
    )


def python(code, **kw):
    return run(["-c", textwrap.dedent(code)], **kw)


def test_the_stand_in_refuses_what_cupy_refuses():
    res = python(
        """
        import numpy as np, pytest, cupy, cupyx
        from npgpt.backend import cuda_available, get_array_module
        a = cupy.asarray(np.arange(6.0).reshape(2, 3))
        assert cuda_available() and get_array_module(a) is cupy and get_array_module(a.sum()) is cupy
        for bad in (lambda: np.asarray(a), lambda: np.exp(a), lambda: np.sum(a), lambda: a + np.ones(3),
                    lambda: np.ones(3) * a, lambda: cupy.where(a > 1, a, np.zeros((2, 3)))):
            with pytest.raises(TypeError):
                bad()
        b = a * 2 + np.float32(1) - 3  # Python and NumPy scalars are fine
        assert get_array_module(b) is cupy and np.array_equal(cupy.asnumpy(b), np.arange(6.0).reshape(2, 3) * 2 - 2)
        with cupyx.allow_synchronize(False):
            c = cupy.exp(a).sum()  # stays on the device: allowed
            for read in (lambda: float(c), lambda: c.item(), lambda: a.get(), lambda: bool(c > 0)):
                with pytest.raises(RuntimeError, match="Synchronization is not allowed"):
                    read()
        assert float(c) > 0
        with pytest.raises(AttributeError):
            cupy.random.default_rng(0).permutation(3)  # CuPy's Generator has no permutation
        with pytest.raises(AttributeError):
            cupy.nanquantile(a, 0.5)  # NumPy has it, CuPy does not
        with pytest.raises(AttributeError):
            a.resize((3, 2))  # nor this method
        print("strict")
        """
    )
    assert res.returncode == 0 and "strict" in res.stdout, res.stdout + res.stderr


def test_a_numpy_call_planted_in_an_op_fails_on_the_stand_in():
    res = python(
        """
        import numpy as np, npgpt
        from npgpt.ops.elementwise import Exp
        x = npgpt.tensor(np.linspace(-1, 1, 5), requires_grad=True, device="cuda")
        x.exp().sum().backward()  # the real op: fine

        def forward(ctx, x):  # the planted slip: np where get_array_module(x) belongs
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        Exp.forward = staticmethod(forward)
        try:
            x.exp()
        except TypeError as e:
            print("refused:", e)
        """
    )
    assert res.returncode == 0 and "refused:" in res.stdout, res.stdout + res.stderr


@pytest.mark.slow
def test_every_cuda_test_passes_on_the_stand_in():
    # through the documented entry point, which puts the stand-in on the path itself; only the files
    # that mark a test cuda are collected (importing every test module costs the child several seconds more)
    files = [
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob("test_*.py")) if "mark.cuda" in p.read_text()
    ]
    pytest_argv = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", *files, "-o", "addopts="]
    res = run(["-m", "npgpt.testing.fake_gpu", *pytest_argv], fake=False)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    passed = re.search(r"(\d+) passed", summary)
    assert res.returncode == 0 and passed and int(passed.group(1)) >= 300, res.stdout[-4000:] + res.stderr[-2000:]
    assert not re.search(r"\d+ (skipped|failed|error)", summary), summary


@pytest.mark.slow
def test_the_commands_on_device_cuda(tmp_path):
    out = tmp_path / "run"
    small = ["--n-layer=1", "--n-head=2", "--n-embd=32", "--block-size=64", "--warmup-steps=2", "--no-progress"]
    train = run(["-m", "npgpt", "train", "--device=cuda", f"--out-dir={out}", "--max-steps=6", *small], cwd=tmp_path)
    assert train.returncode == 0 and "on cuda" in train.stdout, train.stdout + train.stderr
    resume = run(["-m", "npgpt", "train", "--resume", f"--out-dir={out}", "--max-steps=8", "--no-progress"])
    assert resume.returncode == 0, resume.stdout + resume.stderr
    sample = run(["-m", "npgpt", "sample", f"--checkpoint={out}/checkpoint", "--device=cuda", "--max-new-tokens=20"])
    assert sample.returncode == 0 and sample.stdout.strip(), sample.stdout + sample.stderr
    sft = ["sft", f"--init-from={out}/checkpoint", f"--out-dir={tmp_path}/sft", "--max-steps=2", "--batch-size=2"]
    tuned = run(["-m", "npgpt", *sft, "--eval-questions=1", "--device=cuda"])
    assert tuned.returncode == 0 and "on cuda" in tuned.stdout, tuned.stdout + tuned.stderr
    chat = run(["-m", "npgpt", "chat", f"--checkpoint={tmp_path}/sft/checkpoint", "--device=cuda"], input="hi\n")
    assert chat.returncode == 0 and "you>" in chat.stdout, chat.stdout + chat.stderr
    bench = run(["-m", "npgpt", "bench", "--device=cuda", "--configs", "tiny", "--repeats=1", "--steps=2"])
    assert bench.returncode == 0, bench.stdout + bench.stderr
    rows = [line for line in bench.stdout.splitlines() if line.startswith("tiny")]
    assert len(rows) == 4 and "only npgpt's own numbers are measured" in bench.stdout, bench.stdout


def test_a_script_runs_on_the_stand_in(tmp_path):
    script = tmp_path / "on_gpu.py"
    script.write_text(
        "import npgpt\nx = npgpt.tensor([1.0, 2.0], device='cuda')\nprint(type(x.data).__module__, x.sum().item())\n"
    )
    res = run(["-m", "npgpt.testing.fake_gpu", str(script)], fake=False)
    assert res.returncode == 0 and res.stdout.split() == ["cupy", "3.0"], res.stdout + res.stderr
    if not cuda_available():  # without it, on a machine with no CuPy: a DeviceError
        plain = run([str(script)], fake=False)
        assert plain.returncode != 0 and "DeviceError" in plain.stderr
