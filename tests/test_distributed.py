"""npgpt.distributed: the collectives, data parallelism and ZeRO-1 checked under ``mpiexec``.

The central claim: N ranks with B examples each take exactly the steps one process takes with
N x B examples (the same ones), because the gradient of a mean is the mean of the gradients. The
MPI side runs tests/distributed_loop.py; the reference is the same loop in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import distributed_loop as loop
import numpy as np
import pytest
from conftest import CUDA_AVAILABLE, rel_diff, require_mpi, requires_cuda, run_mpi, training_rounding_bound

from npgpt.commands.bench_dist import run_benchmark
from npgpt.distributed import FlatLayout, launched_world_size
from npgpt.distributed.launch import DistributedError, init_communicator
from npgpt.nn import GPT

HERE = Path(__file__).parent
pytestmark = pytest.mark.mpi


def bound(dtype, n):
    """What rounding allows between two runs of distributed_loop.py on n ranks (tests/conftest.py):
    the longest sums are the n * B * T token terms of a weight gradient and, per layer, the
    4 * n_embd terms of the MLP's second matmul."""
    depth = n * loop.B * loop.CONFIG.block_size + loop.CONFIG.n_layer * 4 * loop.CONFIG.n_embd
    return training_rounding_bound(dtype, loop.STEPS, depth)


def part(npz, prefix):
    return {k[len(prefix) :]: npz[k] for k in npz.files if k.startswith(prefix)}


# ----------------------------------------------------------------------------- without mpiexec
def test_world_size_is_read_from_the_launchers_environment():
    assert launched_world_size({}) == 1
    assert launched_world_size({"PMI_SIZE": "4"}) == 4  # MPICH / Intel MPI
    assert launched_world_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3  # Open MPI


def test_one_process_does_not_import_mpi4py():
    code = (
        "import sys, npgpt.distributed as d, npgpt.train, npgpt.cli; npgpt.cli.build_parser(); "
        "assert d.init_communicator() is None; assert 'mpi4py' not in sys.modules; print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_"))}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.parametrize("launch", [{"PMI_SIZE": "2"}, {}])
def test_asking_without_mpi4py_is_one_clear_error(monkeypatch, launch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if it were not installed
    for k, v in launch.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(DistributedError, match=r"mpi4py is not installed: pip install -e '\.\[mpi\]'"):
        init_communicator(required=not launch)


@pytest.mark.parametrize("env", [{"CI": "true"}, {"NPGPT_REQUIRE_MPI": "1"}, {"NPGPT_REQUIRE_TORCH": "1"}])
def test_the_mpi_tests_cannot_skip_in_ci(monkeypatch, env):
    for k in ("CI", "NPGPT_REQUIRE_MPI", "NPGPT_REQUIRE_TORCH"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(pytest.skip.Exception):
        require_mpi()  # on a laptop without mpi4py: a skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(pytest.fail.Exception, match="the MPI tests must run here"):
        require_mpi()


def test_flat_layout_packs_and_unpacks_every_parameter():
    model = GPT(loop.CONFIG, rng=np.random.default_rng(0))
    params = list(model.parameters())
    layout = FlatLayout(params, multiple_of=7)
    assert layout.numel == sum(p.data.size for p in params) and layout.padded % 7 == 0
    assert layout.padded - layout.numel < 7
    buf = layout.pack_data(layout.zeros())
    for i, p in enumerate(params):
        np.testing.assert_array_equal(layout.view(buf, i), p.data)
        assert np.shares_memory(layout.view(buf, i), buf)
    layout.unpack_data(buf * 2)
    np.testing.assert_array_equal(layout.pack_data(layout.zeros()), buf * 2)
    params[0].grad = np.ones_like(params[0].data)  # the others have none: they pack as zeros
    g = layout.pack_grads(layout.zeros() + 5)
    assert g[: params[0].data.size].sum() == params[0].data.size and not g[params[0].data.size : layout.numel].any()


def test_flat_layout_refuses_mixed_dtypes():
    a = GPT(loop.CONFIG, rng=np.random.default_rng(0), dtype=np.float32)
    b = GPT(loop.CONFIG, rng=np.random.default_rng(0), dtype=np.float64)
    with pytest.raises(TypeError, match="mix dtypes"):
        FlatLayout([next(iter(a.parameters())), next(iter(b.parameters()))])


# ----------------------------------------------------------------------------- under mpiexec
@pytest.mark.parametrize("n", [1, 3])
def test_collectives_match_their_formulas(n):
    res = run_mpi(n, [str(HERE / "distributed_collectives.py"), "cpu"])
    assert all(f"ok {r}" in res.stdout for r in range(n))


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("n", [1, 2])
def test_collectives_on_cupy_arrays(n):
    assert CUDA_AVAILABLE
    res = run_mpi(n, [str(HERE / "distributed_collectives.py"), "cuda"])
    assert all(f"ok {r}" in res.stdout for r in range(n))


@pytest.fixture(scope="module", params=[2, 3], ids=["2ranks", "3ranks"])
def runs(request, tmp_path_factory):
    """Every set-up of distributed_loop.py trained on N ranks: {setup: [npz of rank 0, 1, ...]}."""
    n = request.param
    out = tmp_path_factory.mktemp(f"dp{n}")
    run_mpi(n, [str(HERE / "distributed_loop.py"), str(out)])
    return n, {s: [np.load(out / f"{s}.rank{r}.npz") for r in range(n)] for s in loop.SETUPS}


def one_process(setup, n):
    """The reference: the same loop in one process on the batches of all n ranks together."""
    model, opt = loop.train(setup, None, world_size=n)
    return model.state_dict(), opt.state_dict()


def test_ranks_stay_identical(runs):
    n, res = runs
    for setup, ranks in res.items():
        for r in range(1, n):
            for k in part(ranks[0], "param."):
                np.testing.assert_array_equal(ranks[r]["param." + k], ranks[0]["param." + k], err_msg=f"{setup} {k}")


@pytest.mark.parametrize("setup", ["dp64", "dp64_noclip"])
def test_n_ranks_equal_one_process_with_n_times_the_batch_float64(runs, setup):
    n, res = runs
    params, opt_sd = one_process(setup, n)
    assert rel_diff(part(res[setup][0], "param."), params) <= bound(np.float64, n)
    assert rel_diff(part(res[setup][0], "state."), opt_sd["state"]) <= bound(np.float64, n)
    assert int(res[setup][0]["opt_step"]) == loop.STEPS


def test_n_ranks_equal_one_process_float32_to_float32_rounding(runs):
    """float32 sums in another order differ by float32 rounding: within what float32 arithmetic
    guarantees for this training (``bound``), as float32 itself is from float64, and not bit for bit."""
    n, res = runs
    params32, _ = one_process("dp32", n)
    params64, _ = one_process("dp64", n)
    dp32 = part(res["dp32"][0], "param.")
    assert dp32["transformer.wte.weight"].dtype == np.float32
    assert 0 < rel_diff(dp32, params32) <= bound(np.float32, n)
    assert rel_diff(params32, params64) <= bound(np.float32, n) / 2  # one run from the exact one: half
    assert rel_diff(dp32, params64) <= bound(np.float32, n) / 2


def test_buckets_give_the_one_message_result(runs):
    n, res = runs
    assert rel_diff(part(res["dp64_buckets"][0], "param."), part(res["dp64"][0], "param.")) <= bound(np.float64, n)


@pytest.mark.parametrize("clip", ["noclip", "clip"])
def test_zero1_equals_plain_data_parallel(runs, clip):
    n, res = runs
    zero, dp = (res[f"{s}64" + ("_noclip" if clip == "noclip" else "")] for s in ("zero", "dp"))
    assert rel_diff(part(zero[0], "param."), part(dp[0], "param.")) <= bound(np.float64, n)
    # the state gathered from the shards is the whole AdamW state, as plain data parallel holds it
    assert rel_diff(part(zero[0], "state."), part(dp[0], "state.")) <= bound(np.float64, n)
    if clip == "noclip" and n == 2:  # a + b = b + a: with two ranks the sums match bit for bit
        for k in part(dp[0], "param."):
            np.testing.assert_array_equal(zero[0]["param." + k], dp[0]["param." + k])


def test_zero1_optimizer_state_per_rank_falls_by_n(runs):
    n, res = runs
    full = int(res["dp64"][0]["state_bytes"])  # exp_avg and exp_avg_sq, float64: 16 bytes a parameter
    numel = sum(v.size for v in part(res["dp64"][0], "param.").values())
    assert full == 16 * numel
    shards = [int(r["state_bytes"]) for r in res["zero64"]]
    assert sum(shards) == full  # every number held by exactly one rank
    assert max(shards) <= 16 * -(-numel // n)  # ceil(numel / n) parameters' state each


def test_bench_dist_measures_each_rank_count():
    """The benchmark's bookkeeping (not its speed: tests never time anything)."""
    require_mpi()
    rows = run_benchmark("tiny", ranks=(1, 2), steps=1, log=lambda line: None)
    assert [r["ranks"] for r in rows] == [1, 2] and rows[0]["efficiency"] == 1.0
    for r in rows:
        assert r["step_ms"] > 0 and 0 <= r["comm_share"] < 1 and r["tok_s"] > 0 and r["grad_mb"] > 0
