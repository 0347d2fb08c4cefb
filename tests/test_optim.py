"""Tests for npgpt.optim: checked step by step against torch.optim.

Run: python -m pytest tests/test_optim.py -q -p no:cacheprovider
Set NPGPT_REQUIRE_TORCH=1 to make a missing torch a failure, not a skip (the ``torch`` fixture of
tests/conftest.py). tests/test_optim_by_hand.py checks the update rules without torch.
"""

import json
import math

import numpy as np
import pytest

from npgpt.optim import SGD, AdamW, CosineWarmup, Optimizer, clip_grad_norm_, param_groups_for_weight_decay, set_lr

SHAPES = [(4, 3), (3,), (2, 3, 2), (5,)]


class P:
    """Stand-in parameter: just .data and .grad."""

    def __init__(self, data):
        self.data = data
        self.grad = None


def make_params(seed, dtype=np.float64, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [P(rng.standard_normal(s).astype(dtype)) for s in shapes]


def run_vs_torch(
    torch, make_ours, make_theirs, steps=8, dtype=np.float64, seed=0, grouping=None, lrs=None, none_grads=()
):
    """Same start, same (different each step) gradients; return (ours, theirs, start).

    ``grouping(params) -> params or param groups``; ``lrs[k]`` is set on all
    groups before step k; ``(k, i)`` in ``none_grads`` leaves param i without
    a gradient at step k.
    """
    grouping = grouping or (lambda ps: ps)
    ours = make_params(seed, dtype)
    start = [p.data.copy() for p in ours]
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt, topt = make_ours(grouping(ours)), make_theirs(grouping(theirs))
    rng = np.random.default_rng(seed + 1)
    for k in range(steps):
        if lrs is not None:
            set_lr(opt, lrs[k])
            for g in topt.param_groups:
                g["lr"] = lrs[k]
        opt.zero_grad()
        topt.zero_grad()
        for i, (p, t) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.data.shape).astype(dtype)
            if (k, i) not in none_grads:
                p.grad = g.copy()
                t.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    return ours, [t.detach().numpy() for t in theirs], start


def max_err(ours, theirs):
    return max(float(np.max(np.abs(p.data - t))) for p, t in zip(ours, theirs))


def assert_moved(ours, start, at_least=1e-3):
    # a comparison is only meaningful if the parameters really changed
    assert max(float(np.max(np.abs(p.data - s))) for p, s in zip(ours, start)) > at_least


# ----- SGD vs torch --------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.1, momentum=0.8, weight_decay=0.05),
        dict(lr=0.05, momentum=0.9, weight_decay=0.1, nesterov=True),
    ],
)
def test_sgd_matches_torch(torch, kw):
    ours, theirs, start = run_vs_torch(torch, lambda ps: SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw))
    assert max_err(ours, theirs) < 1e-10
    assert_moved(ours, start)


# ----- AdamW vs torch ------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=1e-2),
        dict(lr=3e-2, betas=(0.9, 0.95), weight_decay=0.1),
        dict(lr=1e-2, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.0),
        dict(lr=5e-2, betas=(0.0, 0.99), weight_decay=0.3),
    ],
)
def test_adamw_matches_torch(torch, kw):
    ours, theirs, start = run_vs_torch(torch, lambda ps: AdamW(ps, **kw), lambda ps: torch.optim.AdamW(ps, **kw))
    assert max_err(ours, theirs) < 1e-10
    assert_moved(ours, start)


def test_adamw_two_groups_schedule_and_missing_grads_match_torch(torch):
    def grouping(ps):
        return [{"params": ps[:2], "weight_decay": 0.2}, {"params": ps[2:], "weight_decay": 0.0, "betas": (0.8, 0.9)}]

    sched = CosineWarmup(max_lr=0.05, warmup_steps=3, max_steps=8)
    ours, theirs, start = run_vs_torch(
        torch,
        lambda g: AdamW(g, lr=0.05, betas=(0.9, 0.95)),
        lambda g: torch.optim.AdamW(g, lr=0.05, betas=(0.9, 0.95)),
        steps=10,
        grouping=grouping,
        lrs=[sched(k) for k in range(10)],
        # param 1 starts late, so its own bias-correction step count lags behind
        none_grads={(0, 1), (1, 1), (4, 3)},
    )
    assert max_err(ours, theirs) < 1e-10
    assert_moved(ours, start)


def test_sgd_groups_match_torch(torch):
    def grouping(ps):
        return [{"params": ps[:1]}, {"params": ps[1:], "momentum": 0.5, "weight_decay": 0.1}]

    ours, theirs, _ = run_vs_torch(
        torch,
        lambda g: SGD(g, lr=0.1, momentum=0.9),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
        none_grads={(2, 0)},
    )
    assert max_err(ours, theirs) < 1e-10


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_float32_matches_torch_and_stays_float32(torch, name):
    if name == "adamw":
        mk, tmk = (
            (lambda ps: AdamW(ps, lr=1e-2, weight_decay=0.1)),
            (lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1)),
        )
    else:
        mk, tmk = (
            (lambda ps: SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.1)),
            (lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.1)),
        )
    ours, theirs, start = run_vs_torch(torch, mk, tmk, steps=10, dtype=np.float32)
    scale = max(float(np.max(np.abs(t))) for t in theirs)
    assert max_err(ours, theirs) / scale < 1e-6
    assert all(p.data.dtype == np.float32 for p in ours)
    assert_moved(ours, start)


def test_update_is_in_place_and_keeps_float32():
    ps = make_params(0, np.float32)
    data_ids = [id(p.data) for p in ps]
    view = ps[0].data[0]  # a view held elsewhere (like a tied weight) must see updates
    before = view.copy()
    opt = AdamW(ps, lr=1e-2)
    opt.param_groups[0]["lr"] = np.float64(1e-2)  # a float64 scalar must not upcast anything
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    assert [id(p.data) for p in ps] == data_ids
    assert not np.array_equal(view, before)
    for i, p in enumerate(ps):
        assert p.data.dtype == np.float32
        assert all(opt.state[i][k].dtype == np.float32 for k in ("exp_avg", "exp_avg_sq"))


# ----- clipping ------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_clip_matches_torch(torch, max_norm):
    ps = make_params(3)
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(p.data.shape) for p in ps]
    for p, g in zip(ps, grads):
        p.grad = g.copy()
    ps[1].grad = None  # skipped by both
    ts = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    for i, (t, g) in enumerate(zip(ts, grads)):
        if i != 1:
            t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(ps, max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, max_norm)
    assert isinstance(total, float)
    assert abs(total - ttotal.item()) < 1e-12 * total
    for i, (p, t) in enumerate(zip(ps, ts)):
        if i == 1:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-13, atol=0)
    clipped = math.sqrt(sum(float(np.sum(p.grad**2)) for p in ps if p.grad is not None))
    assert clipped <= max_norm + 1e-9 and (total <= max_norm) == (clipped == pytest.approx(total))


def test_clip_float32_and_edge_cases():
    ps = make_params(5, np.float32)
    for p in ps:
        p.grad = np.full_like(p.data, 2.0)
    n = sum(p.data.size for p in ps)
    total = clip_grad_norm_(ps, 1.0)
    assert total == pytest.approx(2.0 * math.sqrt(n), rel=1e-6)
    assert all(p.grad.dtype == np.float32 for p in ps)
    assert clip_grad_norm_(ps, 1.0) == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([P(np.zeros(3))], 1.0) == 0.0  # no grads at all
    with pytest.raises(ValueError):
        clip_grad_norm_(ps, -1.0)


# ----- schedule ------------------------------------------------------------


def nanogpt_get_lr(it, max_lr, warmup, max_steps, min_lr):
    if it < warmup:
        return max_lr * (it + 1) / warmup
    if it > max_steps:
        return min_lr
    ratio = (it - warmup) / (max_steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)


@pytest.mark.parametrize("args", [(6e-4, 10, 100, None), (1.0, 0, 50, 0.0), (3e-4, 700, 19073, 3e-5)])
def test_cosine_warmup_matches_formula(args):
    max_lr, warmup, max_steps, min_lr = args
    sched = CosineWarmup(max_lr, warmup, max_steps, min_lr)
    ref_min = max_lr / 10 if min_lr is None else min_lr
    for step in list(range(0, max_steps + 20, max(1, max_steps // 97))) + [warmup, max_steps, max_steps + 1]:
        assert sched(step) == pytest.approx(
            nanogpt_get_lr(step, max_lr, warmup, max_steps, ref_min), rel=1e-15, abs=1e-18
        )
    if warmup:
        assert sched(0) == pytest.approx(max_lr / warmup) and sched(warmup - 1) == pytest.approx(max_lr)
    assert sched(warmup) == pytest.approx(max_lr)
    assert sched(max_steps) == pytest.approx(ref_min) and sched(10 * max_steps) == ref_min


@pytest.mark.parametrize(
    "args",
    [
        (-1.0, 10, 100),
        (1.0, -1, 100),
        (1.0, 10, 10),
        (1.0, 10, 5),
        (1.0, 2.5, 100),
        (1.0, 10, 100, 2.0),
        (float("nan"), 10, 100),
    ],
)
def test_cosine_warmup_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        CosineWarmup(*args)


def test_schedule_step_and_set_lr_validation():
    sched = CosineWarmup(1.0, 2, 10)
    with pytest.raises(ValueError):
        sched(-1)
    opt = SGD([P(np.zeros(2))], lr=0.1)
    set_lr(opt, sched(1))
    assert opt.param_groups[0]["lr"] == 1.0
    with pytest.raises(ValueError):
        set_lr(opt, -0.1)


# ----- bookkeeping ---------------------------------------------------------


def test_zero_grad():
    ps = make_params(0)
    opt = SGD(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


@pytest.mark.parametrize(
    "make", [lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.5)]
)
def test_params_without_grad_are_skipped(make):
    ps = make_params(0)
    before = [p.data.copy() for p in ps]
    opt = make(ps)
    ps[0].grad = np.ones_like(ps[0].data)
    opt.step()
    assert not np.array_equal(ps[0].data, before[0])
    for p, b in zip(ps[1:], before[1:]):
        assert np.array_equal(p.data, b)  # not even weight decay touches them
    assert not any(opt.state.get(i) for i in range(1, len(ps)))


def checkpoint_roundtrip(sd):
    """What a checkpoint writer does: arrays to safetensors, the rest to JSON."""
    arrays = {k: np.array(v) for k, v in sd["state"].items()}
    rest = json.loads(json.dumps({k: v for k, v in sd.items() if k != "state"}))
    return {**rest, "state": arrays}


@pytest.mark.parametrize(
    "make", [lambda ps: AdamW(ps, lr=1e-2, weight_decay=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True)]
)
def test_state_dict_roundtrip_is_bitwise(make):
    rng = np.random.default_rng(7)
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(10)]

    def step(opt, ps, k):
        for i, (p, g) in enumerate(zip(ps, grads[k])):
            p.grad = None if (k, i) == (2, 3) else g.copy()
        opt.step()

    ps = make_params(0, np.float32)
    opt = make(ps)
    for k in range(5):
        step(opt, ps, k)
    set_lr(opt, 0.02)
    sd = opt.state_dict()
    saved = [p.data.copy() for p in ps]
    for k in range(5, 10):  # uninterrupted run (also proves sd holds copies)
        step(opt, ps, k)

    ps2 = [P(s) for s in saved]
    opt2 = make(ps2)
    opt2.load_state_dict(checkpoint_roundtrip(sd))
    assert opt2.param_groups[0]["lr"] == 0.02 and opt2.state_dict()["step"] == 5
    for k in range(5, 10):
        step(opt2, ps2, k)
    for p, p2 in zip(ps, ps2):
        assert np.array_equal(p.data, p2.data)


def test_load_state_dict_mismatch_raises_and_changes_nothing():
    ps = make_params(0)
    opt = AdamW(ps, lr=1e-2)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    sd = opt.state_dict()

    fewer = AdamW(make_params(0)[:3], lr=1e-2)
    with pytest.raises(ValueError, match="params"):
        fewer.load_state_dict(sd)

    other = AdamW(make_params(0, shapes=[(4, 3), (3,), (2, 3, 2), (6,)]), lr=0.5)
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(sd)
    assert other.state == {} and other.param_groups[0]["lr"] == 0.5  # untouched

    two_groups = AdamW([{"params": make_params(0)[:2]}, {"params": make_params(0)[2:]}])
    with pytest.raises(ValueError, match="param groups"):
        two_groups.load_state_dict(sd)

    sgd = SGD(make_params(0), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError):
        sgd.load_state_dict(sd)  # hyperparameters and state names differ

    bad = dict(sd, state={**sd["state"], "9.exp_avg": np.zeros(3)})
    with pytest.raises(ValueError, match="9.exp_avg"):
        AdamW(make_params(0)).load_state_dict(bad)


def test_state_dict_is_json_and_flat():
    ps = make_params(0)
    opt = AdamW(param_groups_for_weight_decay(zip("abcd", ps), 0.1), lr=1e-3, betas=(0.9, 0.95))
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    sd = opt.state_dict()
    json.dumps({k: v for k, v in sd.items() if k != "state"})  # no arrays, tuples or numpy scalars
    assert sd["param_groups"][0]["betas"] == [0.9, 0.95]
    assert set(sd["state"]) == {f"{i}.{n}" for i in range(4) for n in ("exp_avg", "exp_avg_sq")}
    assert sd["scalars"] == {f"{i}.step": 1 for i in range(4)}


@pytest.mark.parametrize(
    "bad",
    [
        lambda ps: SGD(ps, lr=-0.1),
        lambda ps: SGD(ps, lr=0.1, momentum=-0.5),
        lambda ps: SGD(ps, lr=0.1, weight_decay=-1.0),
        lambda ps: SGD(ps, lr=0.1, nesterov=True),
        lambda ps: AdamW(ps, lr=-1e-3),
        lambda ps: AdamW(ps, betas=(1.0, 0.999)),
        lambda ps: AdamW(ps, betas=(0.9, -0.1)),
        lambda ps: AdamW(ps, betas=(0.9,)),
        lambda ps: AdamW(ps, eps=-1e-8),
        lambda ps: AdamW(ps, weight_decay=-0.1),
        lambda ps: AdamW([{"params": ps[:2]}, {"params": ps[2:], "lr": -1.0}]),
        lambda ps: AdamW(ps + ps[:1]),
        lambda ps: AdamW([]),
    ],
)
def test_invalid_hyperparameters_raise(bad):
    with pytest.raises(ValueError):
        bad(make_params(0))


def test_no_decay_grouping_by_ndim():
    named = [
        ("wte", P(np.ones((10, 4)))),
        ("ln.w", P(np.ones(4))),
        ("ln.b", P(np.ones(4))),
        ("attn.w", P(np.ones((4, 12)))),
        ("attn.b", P(np.ones(12))),
    ]
    groups = param_groups_for_weight_decay(named, 0.1)
    names = {id(p): n for n, p in named}
    assert [names[id(p)] for p in groups[0]["params"]] == ["wte", "attn.w"]
    assert [names[id(p)] for p in groups[1]["params"]] == ["ln.w", "ln.b", "attn.b"]
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    # with zero gradients only decay moves anything: matrices shrink, the rest stays
    opt = AdamW(groups, lr=0.5)
    for _, p in named:
        p.grad = np.zeros_like(p.data)
    opt.step()
    for _, p in named:
        np.testing.assert_allclose(p.data, 1.0 - 0.5 * 0.1 if p.data.ndim >= 2 else 1.0)


def test_optimizer_base_is_abstract():
    opt = Optimizer([P(np.zeros(2))], dict(lr=0.1))
    opt.param_groups[0]["params"][0].grad = np.zeros(2)
    with pytest.raises(NotImplementedError):
        opt.step()
