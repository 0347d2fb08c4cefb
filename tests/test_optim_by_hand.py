"""AdamW and SGD against their published update rules, computed by hand in float64 (no torch needed).

tests/test_optim.py compares step by step with torch.optim, which is skipped where torch is absent.
These tests pin the numbers down without it: each rule is written out below as the paper / the
PyTorch documentation states it, one line per formula, and npgpt's in-place implementation must
agree to 1e-15 of the largest entry (the two differ only in the order of rounding).

AdamW (Loshchilov & Hutter 2019, decoupled weight decay), step t = 1, 2, ...:
    p = p - lr * wd * p
    m = b1 m + (1 - b1) g,            v = b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t),           v_hat = v / (1 - b2^t)
    p = p - lr * m_hat / (sqrt(v_hat) + eps)

SGD with momentum mu and L2 weight decay wd (PyTorch's SGD, dampening 0), step t = 1, 2, ...:
    d = g + wd p
    b = d (t = 1),  b = mu b + d (t > 1)
    d = d + mu b (nesterov)  or  d = b
    p = p - lr d
"""

import numpy as np
import pytest

from npgpt.nn import Parameter
from npgpt.optim import SGD, AdamW

RTOL = 1e-15
STEPS = 5


def _setup(seed=0, shapes=((3, 4), (5,))):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(STEPS)]
    return start, grads


def _run(make_opt, start, grads, lrs=None):
    params = [Parameter(p.copy()) for p in start]
    opt = make_opt(params)
    for t, gs in enumerate(grads):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
    return opt, [p.data for p in params]


def adamw_by_hand(p, grads, lrs, b1, b2, eps, wd):
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        p = p - lr * wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


def sgd_by_hand(p, grads, lrs, mu, wd, nesterov):
    p, b = p.copy(), None
    for g, lr in zip(grads, lrs):
        d = g + wd * p
        if mu:
            b = d if b is None else mu * b + d
            d = d + mu * b if nesterov else b
        p = p - lr * d
    return p


def _close(actual, expected, what):
    """Equal to 1e-15 of the array's largest entry (an entry near zero is a difference of larger
    terms: its own relative error can be larger, its absolute one cannot)."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL * np.abs(expected).max(), err_msg=what)


ADAMW = [
    dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    dict(lr=3e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
    dict(lr=1e-1, betas=(0.8, 0.9), eps=1e-1, weight_decay=0.5),  # a large eps: where it sits shows
]


@pytest.mark.parametrize("kw", ADAMW, ids=["plain", "decay", "big-eps"])
def test_adamw_matches_the_update_rule(kw):
    start, grads = _setup()
    opt, got = _run(lambda ps: AdamW(ps, **kw), start, grads)
    b1, b2 = kw["betas"]
    for i, p0 in enumerate(start):
        p, m, v = adamw_by_hand(p0, [g[i] for g in grads], [kw["lr"]] * STEPS, b1, b2, kw["eps"], kw["weight_decay"])
        _close(got[i], p, f"parameter {i}")
        _close(opt.state[i]["exp_avg"], m, f"m of parameter {i}")
        _close(opt.state[i]["exp_avg_sq"], v, f"v of parameter {i}")
        assert opt.state[i]["step"] == STEPS


def test_adamw_changing_lr_and_groups_match_the_update_rule():
    start, grads = _setup(seed=1)
    lrs = [0.0, 1e-2, 5e-2, 2e-2, 1e-3]  # a warmup from 0: the moments advance, p does not move
    groups = lambda ps: [{"params": [ps[0]], "weight_decay": 0.1}, {"params": [ps[1]], "weight_decay": 0.0}]  # noqa: E731
    _, got = _run(lambda ps: AdamW(groups(ps), betas=(0.9, 0.95)), start, grads, lrs)
    for i, (p0, wd) in enumerate(zip(start, (0.1, 0.0))):
        p, _, _ = adamw_by_hand(p0, [g[i] for g in grads], lrs, 0.9, 0.95, 1e-8, wd)
        _close(got[i], p, f"parameter {i}")


def test_the_first_adamw_step_moves_every_parameter_by_about_lr():
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1: the step is lr * g / (|g| + eps),
    # the same size for a gradient of 1e-3 as for one of 1e3
    g = np.array([1e-3, -2.0, 1e3, -5e-2])
    p = Parameter(np.zeros(4))
    p.grad = g.copy()
    AdamW([p], lr=0.1, eps=1e-8, weight_decay=0.0).step()
    _close(p.data, -0.1 * g / (np.abs(g) + 1e-8), "first step")


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=0.1),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, weight_decay=0.01),
        dict(lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
    ],
    ids=["plain", "decay", "momentum", "momentum-decay", "nesterov"],
)
def test_sgd_matches_the_update_rule(kw):
    start, grads = _setup(seed=2)
    _, got = _run(lambda ps: SGD(ps, **kw), start, grads)
    mu, wd, nesterov = kw.get("momentum", 0.0), kw.get("weight_decay", 0.0), kw.get("nesterov", False)
    for i, p0 in enumerate(start):
        p = sgd_by_hand(p0, [g[i] for g in grads], [kw["lr"]] * STEPS, mu, wd, nesterov)
        _close(got[i], p, f"parameter {i}")


def test_sgd_momentum_with_a_changing_lr_matches_the_update_rule():
    # the learning rate multiplies the buffer when it is applied, not when it is accumulated
    start, grads = _setup(seed=3)
    lrs = [0.1, 0.05, 0.2, 0.0, 0.1]
    _, got = _run(lambda ps: SGD(ps, lr=0.1, momentum=0.9), start, grads, lrs)
    for i, p0 in enumerate(start):
        _close(got[i], sgd_by_hand(p0, [g[i] for g in grads], lrs, 0.9, 0.0, False), f"parameter {i}")
