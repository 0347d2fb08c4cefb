"""Grader of assignment 5 (training): 5.1 the AdamW update, 5.2 warmup + cosine schedule, 5.3 clipping.

    python -m lessons.grade --assignment a05        # points per task
    pytest lessons/a05_optimizer --task 5.1         # one task, pytest's report

Each task is compared with what the instructor's NumPy copy of the rule (the way the papers and
PyTorch's documentation state it) gives on the same case, recorded in ``expected.npz`` for a
handout (``lessons.expected``), never with another task's code: the AdamW tests set
the learning rate by hand, the schedule tests call only the schedule, the clipping tests build
their gradients themselves.
"""

import math

import numpy as np
import pytest

from lessons.expected import Expected
from lessons.grading import assert_close
from npgpt.optim import AdamW, CosineWarmup, clip_grad_norm_

expected = Expected(__file__)


class P:
    """A parameter as the optimizers see it: ``.data`` and ``.grad``."""

    def __init__(self, data):
        self.data, self.grad = data, None


# ----------------------------------------------------------------------------- 5.1 AdamW
def run_adamw(ps, grads_per_step, **hyper):
    params = [P(p.copy()) for p in ps]
    opt = AdamW(params, **hyper)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.step()
    return params, opt


def problem(seed=0, shapes=((3, 4), (5,)), steps=6):
    rng = np.random.default_rng(seed)
    ps = [rng.standard_normal(s) for s in shapes]
    # gradients of very different sizes per element: a wrong second moment or bias correction shows
    grads = [[rng.standard_normal(s) * np.logspace(-3, 1, num=int(np.prod(s))).reshape(s) for s in shapes]]
    grads += [[rng.standard_normal(s) for s in shapes] for _ in range(steps - 1)]
    return ps, grads


@pytest.mark.task("5.1", points=4)
@pytest.mark.parametrize(
    "hyper",
    [
        dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1),
        dict(lr=3e-3, betas=(0.8, 0.999), eps=1e-3, weight_decay=0.0),
    ],
    ids=["decay", "no-decay-big-eps"],
)
def test_adamw_matches_the_rule_over_several_steps(hyper):
    ps, grads = problem()
    params, opt = run_adamw(ps, grads, **hyper)
    want, m, v = expected(
        "adamw_reference", ps, grads, hyper["lr"], hyper["betas"], hyper["eps"], hyper["weight_decay"]
    )
    for i, p in enumerate(params):
        assert_close(opt.state[i]["exp_avg"], m[i], f"first moment m of parameter {i} after {len(grads)} steps")
        assert_close(opt.state[i]["exp_avg_sq"], v[i], f"second moment v of parameter {i} after {len(grads)} steps")
        assert_close(p.data, want[i], f"parameter {i} after {len(grads)} AdamW steps", rtol=1e-9, atol=1e-12)


@pytest.mark.task("5.1", points=2)
def test_weight_decay_is_decoupled_from_the_gradient():
    # a zero gradient leaves m = v = 0: only the decay moves p, by the factor (1 - lr * wd) exactly;
    # L2 regularisation (wd * p added to g) would go through m / sqrt(v) and move p by about lr
    p0 = np.array([2.0, -4.0, 0.5])
    params, _ = run_adamw([p0], [[np.zeros(3)]], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5)
    assert_close(params[0].data, p0 * (1 - 0.1 * 0.5), "p after one step with g = 0 (decoupled decay only)")


@pytest.mark.task("5.1", points=2)
def test_the_first_step_moves_each_weight_by_about_lr():
    # bias correction: at t = 1, mhat = g and vhat = g * g, so the step is lr * g / (|g| + eps)
    g = np.array([1e-3, -2.0, 50.0, -0.1])
    params, _ = run_adamw([np.zeros(4)], [[g]], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    assert_close(params[0].data, -0.01 * g / (np.abs(g) + 1e-8), "p after the first step from 0", rtol=1e-9)


@pytest.mark.task("5.1", points=1)
def test_adamw_works_in_place_and_keeps_float32():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((4, 3)).astype(np.float32)
    param = P(data)
    opt = AdamW([param], lr=1e-2, weight_decay=0.1)
    for _ in range(2):
        param.grad = rng.standard_normal((4, 3)).astype(np.float32)
        opt.step()
    assert param.data is data, "the update must change p.data in place (others hold references to it)"
    assert param.data.dtype == np.float32, f"float32 parameters must stay float32, got {param.data.dtype}"
    assert opt.state[0]["exp_avg"].dtype == np.float32 and opt.state[0]["exp_avg_sq"].dtype == np.float32


# ----------------------------------------------------------------------------- 5.2 the schedule
@pytest.mark.task("5.2", points=2)
def test_warmup_is_linear_and_reaches_max_lr():
    sched = CosineWarmup(max_lr=6e-4, warmup_steps=10, max_steps=100, min_lr=6e-5)
    got = [sched(s) for s in range(10)]
    assert got[0] > 0, "the first step must not have a learning rate of 0 (it would be wasted)"
    want = [expected("schedule_reference", s, 6e-4, 10, 100, 6e-5) for s in range(10)]
    assert_close(got, want, "lr during warmup (steps 0..9)")


@pytest.mark.task("5.2", points=3)
@pytest.mark.parametrize("warmup,max_steps,min_lr", [(10, 100, 6e-5), (0, 7, 0.0), (3, 4, 1e-4)])
def test_cosine_decay_after_warmup(warmup, max_steps, min_lr):
    sched = CosineWarmup(max_lr=1e-3, warmup_steps=warmup, max_steps=max_steps, min_lr=min_lr)
    steps = range(warmup, max_steps + 5)
    got = [sched(s) for s in steps]
    want = [expected("schedule_reference", s, 1e-3, warmup, max_steps, min_lr) for s in steps]
    assert_close(got, want, f"lr for steps {warmup}..{max_steps + 4} (warmup {warmup}, max_steps {max_steps})")
    assert all(isinstance(x, float) for x in got), "the learning rate must be a Python float"


@pytest.mark.task("5.2", points=1)
def test_the_midpoint_is_halfway_between_max_and_min():
    sched = CosineWarmup(max_lr=1.0, warmup_steps=4, max_steps=24, min_lr=0.2)
    assert_close(sched(14), 0.6, "lr halfway through the decay (cos(pi/2) = 0)")
    assert_close(sched(24), 0.2, "lr at max_steps")


# ----------------------------------------------------------------------------- 5.3 clipping
def grads_of(scale, seed=5):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)) * scale, rng.standard_normal(5) * scale, rng.standard_normal((2, 2, 2)) * scale]


def params_with(grads):
    ps = [P(np.zeros_like(g)) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g
    return ps


@pytest.mark.task("5.3", points=3)
@pytest.mark.parametrize("max_norm", [1.0, 0.05])
def test_large_gradients_are_scaled_to_max_norm(max_norm):
    grads = grads_of(10.0)
    norm, want = expected("clip_reference", [g.copy() for g in grads], max_norm)
    total = clip_grad_norm_(params_with(grads), max_norm)
    assert_close(total, norm, "the returned total norm (before clipping)")
    for i, (g, w) in enumerate(zip(grads, want)):
        assert_close(g, w, f"gradient {i} after clipping (one common factor for all)", rtol=1e-12)


@pytest.mark.task("5.3", points=1)
def test_small_gradients_and_missing_ones_are_left_alone():
    grads = grads_of(0.01)
    before = [g.copy() for g in grads]
    ps = params_with(grads) + [P(np.ones(3))]  # a parameter without a gradient is skipped
    total = clip_grad_norm_(ps, 1.0)
    assert_close(total, expected("clip_reference", before, 1.0)[0], "the total norm")
    for i, (g, b) in enumerate(zip(grads, before)):
        assert_close(g, b, f"gradient {i}, whose global norm is below max_norm, must not change", rtol=0, atol=0)


@pytest.mark.task("5.3", points=1)
def test_a_non_finite_norm_leaves_the_gradients():
    grads = grads_of(1.0)
    grads[1][2] = np.inf
    before = [g.copy() for g in grads]
    total = clip_grad_norm_(params_with(grads), 1.0)
    assert not math.isfinite(total), f"the norm of gradients holding inf must be inf, got {total}"
    for i, (g, b) in enumerate(zip(grads, before)):
        assert np.array_equal(g, b), f"gradient {i} must be left as it is when the norm is not finite"
