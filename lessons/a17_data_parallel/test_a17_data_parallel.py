"""Grader of assignment 17 (data parallelism): 17.1 the flat buffer, 17.2 gradient averaging, 17.3 ZeRO-1.

    python -m lessons.grade --assignment a17           # points per task
    pytest lessons/a17_data_parallel --task 17.2       # one task, pytest's report

No MPI: N ranks are simulated by N threads of this process (``World``), each with its own copy of
the parameters and its own gradients, talking through a communicator with the methods of
``npgpt.distributed.Communicator`` (``all_reduce_``, ``reduce_scatter``, ``all_gather_``, ...) that
also records every call, so the grader sees how much each rank sent. The answer to compare with
is computed here in one process: the mean of the ranks' gradients (the gradient of the whole
batch) and the optimizer's rule applied to it. Tasks 17.2 and 17.3 run on ``RecordedLayout`` (the
instructor's offsets and padding, recorded), so a mistake in 17.1 costs 17.1's points only.
"""

import math
import threading

import numpy as np
import pytest

from lessons.expected import Expected
from lessons.grading import assert_close
from npgpt.distributed import data_parallel, flat_buffer, zero
from npgpt.optim import SGD

expected = Expected(__file__)
WAIT = 20.0  # seconds a rank waits for the others in a collective before the test fails


class P:
    """A parameter as the distributed code sees it: ``.data`` and ``.grad``."""

    def __init__(self, data, grad=None):
        self.data, self.grad = data, grad


# ----------------------------------------------------------------------------- simulated ranks
class World:
    """N ranks in N threads; ``run(fn)`` calls ``fn(comm)`` on every rank and returns the results."""

    def __init__(self, n):
        self.n = n
        self.barrier = threading.Barrier(n, timeout=WAIT)
        self.slots = [None] * n
        self.calls = [[] for _ in range(n)]  # per rank: (collective, the array it was given)

    def run(self, fn):
        results, errors = [None] * self.n, [None] * self.n

        def one(rank):
            try:
                results[rank] = fn(FakeComm(self, rank))
            except BaseException as e:  # noqa: BLE001 (re-raised in the main thread below)
                errors[rank] = e
                self.barrier.abort()  # the other ranks would wait for this one in vain

        threads = [threading.Thread(target=one, args=(r,)) for r in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        real = [e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)]
        if real:
            raise real[0]
        if any(errors):
            raise AssertionError(f"the ranks did not call the same collectives: one waited {WAIT:.0f} s for the others")
        return results


class FakeComm:
    """One rank's communicator: the collectives of npgpt.distributed.Communicator, by threads."""

    def __init__(self, world, rank):
        self.world, self.rank, self.world_size = world, rank, world.n

    def _exchange(self, a, op):
        """Every rank's copy of its array ``a`` (all ranks call this together)."""
        assert isinstance(a, np.ndarray), f"{op}: expected a NumPy array, got {type(a).__name__}"
        assert a.flags.c_contiguous, (
            f"{op}: needs a C-contiguous array (MPI sends memory as it lies), got strides {a.strides}"
        )
        self.world.calls[self.rank].append((op, a))
        self.world.slots[self.rank] = a.copy()
        self.world.barrier.wait()
        parts = list(self.world.slots)
        self.world.barrier.wait()  # nobody overwrites a slot before every rank has read it
        sizes = {p.size for p in parts}
        assert len(sizes) == 1, f"{op}: the ranks passed arrays of different sizes {sorted(sizes)}"
        return parts

    def all_reduce_(self, buf):
        parts = self._exchange(buf, "all_reduce_")
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        buf[...] = total
        return buf

    def reduce_scatter(self, send, recv):
        assert send.size == self.world_size * recv.size, (
            f"reduce_scatter: send has {send.size} numbers, recv {recv.size}, ranks {self.world_size}"
        )
        parts = self._exchange(send, "reduce_scatter")
        total = parts[0].reshape(-1).copy()
        for p in parts[1:]:
            total += p.reshape(-1)
        recv[...] = total[self.rank * recv.size : (self.rank + 1) * recv.size].reshape(recv.shape)
        return recv

    def all_gather_(self, buf):
        assert buf.size % self.world_size == 0, f"all_gather_: {buf.size} numbers, {self.world_size} ranks"
        parts = self._exchange(buf, "all_gather_")
        S = buf.size // self.world_size
        flat = buf.reshape(-1)
        for k, p in enumerate(parts):
            flat[k * S : (k + 1) * S] = p.reshape(-1)[k * S : (k + 1) * S]
        return buf

    def broadcast_(self, buf, root=0):
        buf[...] = self._exchange(buf, "broadcast_")[root]
        return buf

    def sum(self, value):
        return float(sum(float(p[0]) for p in self._exchange(np.array([value], dtype=np.float64), "sum")))

    def any(self, flag):
        return self.sum(1.0 if flag else 0.0) > 0

    def barrier(self):
        self.world.barrier.wait()


# ----------------------------------------------------------------------------- the grader's layout
class RecordedLayout:
    """The layout 17.2 and 17.3 run on (the interface of FlatLayout), so a mistake in 17.1 costs 17.1's
    points only. Where each parameter sits (offsets, numel, padded) is the instructor's, recorded for
    the shapes these tests use; the copies in and out are what the contract of 17.1 says, at those
    places."""

    def __init__(self, params, multiple_of=1):
        self.params = list(params)
        self.dtype, self.xp = self.params[0].data.dtype, np
        self.shapes = [p.data.shape for p in self.params]
        self.sizes = [p.data.size for p in self.params]
        self.offsets, self.numel, self.padded = expected("flat_layout_rule", self.shapes, multiple_of)
        self.stops = self.offsets[1:] + [self.numel]  # parameter i ends where parameter i + 1 begins

    def zeros(self, size=None):
        return np.zeros(self.padded if size is None else size, dtype=self.dtype)

    def view(self, buf, i):
        return buf[self.offsets[i] : self.stops[i]].reshape(self.shapes[i])

    def pack_grads(self, buf):
        for i, param in enumerate(self.params):
            np.copyto(self.view(buf, i), 0 if param.grad is None else param.grad)
        return buf

    def pack_data(self, buf):
        for i, param in enumerate(self.params):
            np.copyto(self.view(buf, i), param.data)
        return buf

    def unpack_data(self, buf):
        for i, param in enumerate(self.params):
            np.copyto(param.data, self.view(buf, i))


@pytest.fixture
def grader_layout(monkeypatch):
    monkeypatch.setattr(data_parallel, "FlatLayout", RecordedLayout)
    monkeypatch.setattr(zero, "FlatLayout", RecordedLayout)


SHAPES = [(3, 4), (5,), (), (2, 3, 2), (1, 7)]  # 12 + 5 + 1 + 12 + 7 = 37 numbers, a prime


def values(shapes=SHAPES, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def address(a):
    return a.__array_interface__["data"][0]


# ----------------------------------------------------------------------------- 17.1 the flat buffer
@pytest.mark.task("17.1", points=2)
@pytest.mark.parametrize("multiple_of", [1, 4, 37, 8])
def test_offsets_numel_and_padding(multiple_of):
    params = [P(v) for v in values()]
    layout = flat_buffer.FlatLayout(params, multiple_of=multiple_of)
    want = [0, 12, 17, 18, 30]
    assert list(layout.offsets) == want, (
        f"offsets of parameters of sizes 12, 5, 1, 12, 7: {layout.offsets}, expected {want}"
    )
    assert layout.numel == 37, f"numel of parameters of sizes 12, 5, 1, 12, 7: {layout.numel}, expected 37"
    padded = math.ceil(37 / multiple_of) * multiple_of
    assert layout.padded == padded, f"padded with multiple_of={multiple_of}: {layout.padded}, expected {padded}"
    assert layout.zeros().shape == (padded,), f"zeros() has shape {layout.zeros().shape}, expected ({padded},)"


@pytest.mark.task("17.1", points=2)
def test_view_is_the_parameters_part_and_shares_memory():
    params = [P(v) for v in values()]
    layout = flat_buffer.FlatLayout(params, multiple_of=8)
    buf = np.arange(40, dtype=np.float64)
    start = 0
    for i, shape in enumerate(SHAPES):
        n = int(np.prod(shape))
        v = layout.view(buf, i)
        assert_close(
            v, np.arange(start, start + n, dtype=np.float64).reshape(shape), f"view(buf, {i}) of shape {shape}"
        )
        assert np.shares_memory(v, buf), f"view(buf, {i}) must be a view of buf, not a copy"
        start += n


@pytest.mark.task("17.1", points=2)
def test_pack_grads_with_missing_ones_and_pack_data():
    data, grads = values(seed=1), values(seed=2)
    params = [P(d, None if i in (1, 3) else g) for i, (d, g) in enumerate(zip(data, grads))]
    layout = flat_buffer.FlatLayout(params, multiple_of=8)
    buf = np.full(40, 5.0)  # stale numbers from the last step: every parameter's part must be overwritten
    out = layout.pack_grads(buf)
    assert out is buf, "pack_grads(buf) must fill buf in place and return it"
    want = np.concatenate([np.zeros(g.size) if i in (1, 3) else g.ravel() for i, g in enumerate(grads)])
    assert_close(buf[:37], want, "the packed gradients (parameters 1 and 3 have grad None: zeros)")
    buf2 = np.zeros(40)
    assert layout.pack_data(buf2) is buf2, "pack_data(buf) must fill buf in place and return it"
    assert_close(buf2[:37], np.concatenate([d.ravel() for d in data]), "the packed parameter values")


@pytest.mark.task("17.1", points=2)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unpack_data_writes_into_the_existing_arrays(dtype):
    data = values(seed=3, dtype=dtype)
    params = [P(d) for d in data]
    held = [p.data for p in params]  # what a model, a tied weight or an optimizer holds
    layout = flat_buffer.FlatLayout(params)
    new = np.concatenate([v.ravel() for v in values(seed=4, dtype=dtype)])
    buf = new.copy()
    layout.unpack_data(buf)
    for i, (p, h) in enumerate(zip(params, held)):
        assert p.data is h, f"unpack_data replaced parameter {i}'s array: it must copy into p.data in place"
        assert p.data.dtype == dtype, f"parameter {i} changed dtype to {p.data.dtype}"
    buf[:] = -1.0  # the next step reuses the buffer: the parameters must not change with it
    got = np.concatenate([p.data.ravel() for p in params])
    assert_close(got, new, f"the parameters after unpack_data (then the buffer reused), {np.dtype(dtype).name}")


# ----------------------------------------------------------------------------- 17.2 averaging
def rank_grads(n_ranks, shapes=SHAPES, dtype=np.float64, missing=(3,)):
    """grads[r][i]: rank r's gradient of parameter i (None for parameters in ``missing`` on rank 0)."""
    out = []
    for r in range(n_ranks):
        g = values(shapes, seed=10 + r, dtype=dtype)
        out.append([None if (r == 0 and i in missing) else x * (r + 1) for i, x in enumerate(g)])
    return out


def mean_grads(grads, shapes=SHAPES):
    """The mean over ranks of each parameter's gradient (a missing one counts as zeros)."""
    n = len(grads)
    return [sum(np.zeros(shape) if g[i] is None else g[i] for g in grads) / n for i, shape in enumerate(shapes)]


def average_on(n_ranks, grads, bucket_bytes=None, dtype=np.float64):
    world = World(n_ranks)
    start = values(dtype=dtype, seed=0)

    def rank(comm):
        params = [P(v.copy(), None if g is None else g.copy()) for v, g in zip(start, grads[comm.rank])]
        averager = data_parallel.GradientAverager(params, comm, bucket_bytes)
        averager.average_()
        return params, averager

    return world, world.run(rank)


@pytest.mark.task("17.2", points=4)
@pytest.mark.parametrize("n_ranks", [1, 2, 3])
def test_every_rank_gets_the_mean_gradient(grader_layout, n_ranks):
    grads = rank_grads(n_ranks)
    _, results = average_on(n_ranks, grads)
    want = mean_grads(grads)
    for r, (params, _) in enumerate(results):
        for i, p in enumerate(params):
            assert_close(p.grad, want[i], f"rank {r}: grad of parameter {i} {SHAPES[i]}, {n_ranks} ranks (the mean)")


@pytest.mark.task("17.2", points=2)
def test_the_grads_are_views_of_the_buffer_and_one_all_reduce_moves_it(grader_layout):
    world, results = average_on(2, rank_grads(2))
    for r, (params, averager) in enumerate(results):
        for i, p in enumerate(params):
            assert np.shares_memory(p.grad, averager.buffer), (
                f"rank {r}: grad of parameter {i} is not a view of the buffer"
            )
        calls = world.calls[r]
        assert [op for op, _ in calls] == ["all_reduce_"], (
            f"rank {r} called {[op for op, _ in calls]}; expected one all_reduce_"
        )
        a = calls[0][1]
        assert address(a) == address(averager.buffer) and a.size == 37, (
            f"rank {r}: the all-reduce must be on the whole buffer in place (37 numbers), got {a.size} numbers"
        )


@pytest.mark.task("17.2", points=3)
@pytest.mark.parametrize(
    "dtype,bucket_bytes,limit", [(np.float64, 80, 10), (np.float32, 48, 12), (np.float64, 300, 37), (np.float32, 3, 1)]
)
def test_buckets_cover_the_buffer_in_order(grader_layout, dtype, bucket_bytes, limit):
    grads = rank_grads(3, dtype=dtype)
    world, results = average_on(3, grads, bucket_bytes, dtype)
    want = mean_grads(grads)
    for r, (params, averager) in enumerate(results):
        spans = [
            ((address(a) - address(averager.buffer)) // a.itemsize, a.size)
            for op, a in world.calls[r]
            if op == "all_reduce_"
        ]
        sizes = [n for _, n in spans]
        assert max(sizes) <= limit, (
            f"rank {r}: a message of {max(sizes)} numbers; {bucket_bytes} bytes of {np.dtype(dtype).name} hold {limit}"
        )
        assert len(spans) == math.ceil(37 / limit), (
            f"rank {r}: {len(spans)} all-reduces for 37 numbers in buckets of {limit}"
        )
        starts = [s for s, _ in spans]
        assert starts == list(np.cumsum([0] + sizes[:-1])) and sum(sizes) == 37, (
            f"rank {r}: the buckets (start, size) {spans} must cover numbers 0..37 of the buffer once, in order"
        )
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        for i, p in enumerate(params):
            assert_close(
                p.grad, want[i], f"rank {r}: grad of parameter {i} with buckets of {limit}", rtol=rtol, atol=1e-7
            )


# ----------------------------------------------------------------------------- 17.3 ZeRO-1
def sgd_reference(start, means_per_step, lrs, momentum, weight_decay):
    """SGD with momentum and L2 decay (torch.optim.SGD) on the mean gradients, in one process."""
    ps = [v.copy() for v in start]
    bufs = [None] * len(ps)
    for means, lr in zip(means_per_step, lrs):
        for i, g in enumerate(means):
            d = g + weight_decay[i] * ps[i]
            bufs[i] = d.copy() if bufs[i] is None else momentum * bufs[i] + d
            ps[i] = ps[i] - lr * bufs[i]
    return ps


def zero_run(n_ranks, steps=3, lrs=(0.1, 0.05, 0.02)):
    """Train the SHAPES parameters with ZeRO-1 around SGD on n_ranks; two groups (decay / no decay)."""
    world = World(n_ranks)
    start = values(seed=0)
    # other gradients at every step; parameter 3 has none on rank 0 at the first step
    grads_per_step = [
        [[None if g is None else g * (1 + s) for g in gs] for gs in rank_grads(n_ranks, missing=(3,) if s == 0 else ())]
        for s in range(steps)
    ]

    def rank(comm):
        params = [P(v.copy()) for v in start]
        groups = [{"params": params[:2] + params[3:4], "weight_decay": 0.1}, {"params": params[2:3] + params[4:]}]
        opt = zero.ZeroRedundancyOptimizer(SGD(groups, lr=lrs[0], momentum=0.9), comm)
        shards = []
        for s in range(steps):
            for p, g in zip(params, grads_per_step[s][comm.rank]):
                p.grad = None if g is None else g.copy()
            for group in opt.param_groups:
                group["lr"] = lrs[s]  # as a schedule does
            opt.reduce_scatter_grads()
            shards.append(opt.grad_shard.copy())
            opt.step()
        return params, opt, shards

    results = world.run(rank)
    order = [0, 1, 3, 2, 4]  # the optimizer's order of the parameters (group by group)
    wd = {0: 0.1, 1: 0.1, 3: 0.1, 2: 0.0, 4: 0.0}
    means = [[mean_grads(gs)[i] for i in order] for gs in grads_per_step]
    want = sgd_reference([start[i] for i in order], means, lrs, 0.9, [wd[i] for i in order])
    return world, results, {i: want[k] for k, i in enumerate(order)}, means


@pytest.mark.task("17.3", points=2)
@pytest.mark.parametrize("n_ranks", [2, 3])
def test_each_rank_gets_its_shard_of_the_mean_gradient(grader_layout, n_ranks):
    _, results, _, means = zero_run(n_ranks)
    for s, mean in enumerate(means):  # the flat layout follows the optimizer's order
        flat = np.concatenate([m.ravel() for m in mean])
        S = math.ceil(37 / n_ranks)
        flat = np.concatenate([flat, np.zeros(S * n_ranks - 37)])
        for r, (_, _, shards) in enumerate(results):
            assert_close(
                shards[s],
                flat[r * S : (r + 1) * S],
                f"rank {r} of {n_ranks}: grad_shard at step {s + 1} (numbers {r * S}..{(r + 1) * S} of the mean gradient)",
            )


@pytest.mark.task("17.3", points=4)
@pytest.mark.parametrize("n_ranks", [1, 2, 3])
def test_zero_trains_like_one_process_on_the_whole_batch(grader_layout, n_ranks):
    _, results, want, _ = zero_run(n_ranks)
    for r, (params, _, _) in enumerate(results):
        for i, p in enumerate(params):
            assert_close(
                p.data,
                want[i],
                f"rank {r} of {n_ranks}: parameter {i} {SHAPES[i]} after 3 ZeRO-1 SGD steps (momentum, decay)",
                rtol=1e-10,
            )


@pytest.mark.task("17.3", points=2)
def test_zero_sends_one_reduce_scatter_and_one_all_gather_per_step(grader_layout):
    world, results, _, _ = zero_run(3)
    for r, (_, opt, _) in enumerate(results):
        ops = [(op, a.size) for op, a in world.calls[r]]
        padded = opt.layout.padded
        want = [("reduce_scatter", padded), ("all_gather_", padded)] * 3
        assert ops == want, (
            f"rank {r}: collectives per step {ops[:4]}...; ZeRO-1 moves the gradients with one reduce_scatter "
            f"(not an all-reduce) and the parameters with one all_gather_, each of {padded} numbers"
        )
    for r, (params, _, _) in enumerate(results[1:], start=1):
        for i, (p, q) in enumerate(zip(params, results[0][0])):
            assert np.array_equal(p.data, q.data), f"ranks 0 and {r} hold different values of parameter {i}"
