"""Grader of assignment 7: 7.1 the causal mask, 7.2 the softmax backward, 7.3 attention's backward.

    python -m lessons.grade --assignment a07        # points per task
    pytest lessons/a07_attention --task 7.3         # one task, pytest's report

Each task is graded on its own. The mask and the softmax backward are compared with what the
instructor's reference gives on the same cases (recorded in ``expected.npz`` for a handout: see
``lessons.expected``); attention's backward is called directly on saved values computed here in
NumPy (its forward is not a task) and compared with central finite differences of the grader's
forward in float64. While 7.3 is graded, the recorded masks and a softmax backward by central
differences stand in for tasks 7.1 and 7.2, so a mistake there costs their points only.
"""

import math

import numpy as np
import pytest

import npgpt.ops.attention as attention
from lessons.expected import Expected
from lessons.finite_differences import numerical_vjp
from lessons.grading import assert_close, call_backward
from npgpt.ops.attention import ScaledDotProductAttention, causal_mask, softmax_backward

expected = Expected(__file__)


# ----------------------------------------------------------------------------- the grader's NumPy
def future(Tq, Tk):
    """The mask of a (Tq, Tk) case: the reference's, as recorded."""
    return expected("causal_mask_rule", Tq, Tk)


def scores(q, k, causal):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    return np.where(future(q.shape[-2], k.shape[-2]), -np.inf, s) if causal else s


def softmax(s):
    """exp(S) / sum exp(S) over keys (the scores here are small: no overflow to guard against)."""
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def forward(q, k, v, causal, m=None):
    """O = (softmax(S) * m) @ v: attention's forward, the grader's copy."""
    p = softmax(scores(q, k, causal))
    return (p if m is None else p * m) @ v


def saved(q, k, v, causal, m=None):
    """What the forward saves for the backward: (q, k, v, lse, m, out)."""
    lse = np.log(np.exp(scores(q, k, causal)).sum(axis=-1, keepdims=True))
    return q, k, v, lse, m, forward(q, k, v, causal, m)


def softmax_backward_by_differences(p, dp, rowsum=None):
    """Task 7.2's stand-in while 7.3 is graded: dS by central differences of softmax at S = log P
    (a row's softmax does not change when the row is shifted; masked keys stay at -inf), written
    into dp. A rowsum the caller gives must be what the contract says it is."""
    p64, dp64 = p.astype(np.float64), dp.astype(np.float64)
    if rowsum is not None:
        want = np.einsum("...j,...j->...", dp64, p64)[..., None]
        tol = dict(rtol=1e-4, atol=1e-5) if np.float32 in (p.dtype, dp.dtype) else dict(rtol=1e-8, atol=1e-10)
        assert_close(
            rowsum, want, f"the rowsum your backward hands softmax_backward: the row sums of dP * P {want.shape}", **tol
        )
    s = np.where(p64 > 0, np.log(np.where(p64 > 0, p64, 1.0)), -np.inf)
    dp[...] = numerical_vjp(softmax, s, dp64).astype(dp.dtype)
    return dp


# ----------------------------------------------------------------------------- 7.1 the mask
MASKS = [(1, 1), (3, 3), (5, 5), (2, 5), (1, 4), (4, 6), (3, 8)]


@pytest.mark.task("7.1", points=2)
@pytest.mark.parametrize("Tq, Tk", MASKS, ids=[f"Tq={q} Tk={k}" for q, k in MASKS])
def test_causal_mask(Tq, Tk):
    got = np.asarray(causal_mask(Tq, Tk))
    assert got.dtype == bool, f"causal_mask({Tq}, {Tk}) must be a bool array, got {got.dtype}"
    assert got.shape == (Tq, Tk), f"causal_mask({Tq}, {Tk}) has shape {got.shape}, expected ({Tq}, {Tk})"
    want = future(Tq, Tk)
    for i in range(Tq):
        seen = np.flatnonzero(~got[i])
        assert np.array_equal(got[i], want[i]), (
            f"causal_mask({Tq}, {Tk}): query {i} (absolute position {i + Tk - Tq}) sees keys {seen.tolist()}, "
            f"it must see keys 0..{i + Tk - Tq}"
        )


# ----------------------------------------------------------------------------- 7.2 softmax backward
def probs(shape, seed, masked=True):
    """Softmax rows (..., Tq, Tk), with zeros where the causal mask puts them."""
    s = np.random.default_rng(seed).standard_normal(shape)
    if masked:
        s = np.where(future(shape[-2], shape[-1]), -np.inf, s)
    return softmax(s)


SOFTMAX = [((4, 4), True), ((2, 3, 5, 5), True), ((2, 3, 6), True), ((3, 6), False), ((1, 1), False)]


@pytest.mark.task("7.2", points=1)
@pytest.mark.parametrize("shape, masked", SOFTMAX, ids=[f"{s} masked={m}" for s, m in SOFTMAX])
def test_softmax_backward_matches_the_jacobian(shape, masked):
    p = probs(shape, 1, masked)
    dp = np.random.default_rng(2).standard_normal(shape)
    want = expected("softmax_backward_by_jacobian", p, dp)
    mine = dp.copy()
    got = softmax_backward(p.copy(), mine)
    assert_close(got, want, f"dS for P of shape {shape} (rowsum not given)")
    assert_close(mine, want, f"dp after softmax_backward: it must be overwritten with dS (shape {shape})")
    assert np.all(got[p == 0] == 0), "a masked entry (P = 0) must get exactly dS = 0"


@pytest.mark.task("7.2", points=1)
def test_softmax_backward_uses_the_given_rowsum():
    # the caller's row sums come from another formula: trust them (here they are off on purpose)
    p, dp = probs((2, 4, 4), 3), np.random.default_rng(4).standard_normal((2, 4, 4))
    rowsum = np.einsum("...j,...j->...", p, dp)[..., None] + np.arange(4).reshape(1, 4, 1) * 0.1
    want = expected("softmax_backward_by_jacobian", p, dp, rowsum)
    got = softmax_backward(p.copy(), dp.copy(), rowsum.copy())
    assert_close(got, want, "dS with the rowsum given by the caller (use it, do not recompute it)")


@pytest.mark.task("7.2", points=1)
def test_softmax_backward_keeps_float32():
    p = probs((2, 3, 3), 5).astype(np.float32)
    dp = np.random.default_rng(6).standard_normal((2, 3, 3)).astype(np.float32)
    got = softmax_backward(p, dp.copy())
    assert got.dtype == np.float32, f"dS must keep float32, got {got.dtype}"
    want = expected("softmax_backward_by_jacobian", p.astype(np.float64), dp.astype(np.float64))
    assert_close(got, want, "float32 dS", rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 7.3 attention backward
@pytest.fixture
def earlier_tasks_by_the_grader(monkeypatch):
    """Tasks 7.1 and 7.2 replaced by the grader's stand-ins, and the mask cache emptied."""
    monkeypatch.setattr(attention, "causal_mask", future)
    monkeypatch.setattr(attention, "softmax_backward", softmax_backward_by_differences)
    monkeypatch.setattr(attention, "_CACHE", {})


def qkv(qs, ks, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(qs), rng.standard_normal(ks), rng.standard_normal(ks)


def backward(values, g, causal, needs=(True, True, True)):
    q = values[0]
    grads = call_backward(
        ScaledDotProductAttention, values, g, needs, scale=1.0 / math.sqrt(q.shape[-1]), causal=causal
    )
    assert isinstance(grads, tuple | list) and len(grads) == 3, "backward must return (dq, dk, dv)"
    return grads


# (name, q shape, k/v shape, causal)
ATTN = [
    ("causal (2,2,5,4)", (2, 2, 5, 4), (2, 2, 5, 4), True),
    ("no mask (1,3,4,2)", (1, 3, 4, 2), (1, 3, 4, 2), False),
    ("cached Tq=2 Tk=5", (1, 2, 2, 3), (1, 2, 5, 3), True),
    ("one query Tq=1 Tk=4", (2, 1, 1, 3), (2, 1, 4, 3), True),
    ("head size 1", (1, 1, 4, 1), (1, 1, 4, 1), True),
    ("no mask Tq=3 Tk=5", (1, 2, 3, 4), (1, 2, 5, 4), False),
]


def check_against_finite_differences(q, k, v, g, causal, m, name):
    dq, dk, dv = backward(saved(q, k, v, causal, m), g, causal)
    expected = [
        numerical_vjp(lambda q: forward(q, k, v, causal, m), q, g),
        numerical_vjp(lambda k: forward(q, k, v, causal, m), k, g),
        numerical_vjp(lambda v: forward(q, k, v, causal, m), v, g),
    ]
    for what, got, want in zip(("dq", "dk", "dv"), (dq, dk, dv), expected):
        assert got is not None, f"{what} is None, but the context asked for it ({name})"
        assert_close(got, want, f"{what} ({name})", rtol=1e-6, atol=1e-8)


@pytest.mark.task("7.3", points=3)
@pytest.mark.parametrize("name, qs, ks, causal", ATTN, ids=[a[0] for a in ATTN])
def test_backward_matches_finite_differences(earlier_tasks_by_the_grader, name, qs, ks, causal):
    q, k, v = qkv(qs, ks, 1)
    g = np.random.default_rng(2).standard_normal(qs)
    check_against_finite_differences(q, k, v, g, causal, None, name)


@pytest.mark.task("7.3", points=2)
@pytest.mark.parametrize("causal", [True, False], ids=["causal", "no mask"])
def test_backward_with_dropout(earlier_tasks_by_the_grader, causal):
    q, k, v = qkv((1, 2, 4, 3), (1, 2, 4, 3), 3)
    g = np.random.default_rng(4).standard_normal(q.shape)
    m = (np.random.default_rng(5).random((1, 2, 4, 4)) >= 0.3) / 0.7  # 0 or 1/(1 - p), as dropout draws it
    check_against_finite_differences(q, k, v, g, causal, m, f"dropout p=0.3, {'causal' if causal else 'no mask'}")


@pytest.mark.task("7.3", points=1)
def test_no_gradient_reaches_the_future(earlier_tasks_by_the_grader):
    # a loss on query 0 alone: only key and value 0 may receive gradient, the later ones are masked
    q, k, v = qkv((1, 1, 5, 3), (1, 1, 5, 3), 6)
    g = np.zeros(q.shape)
    g[..., 0, :] = 1.0
    dq, dk, dv = backward(saved(q, k, v, True), g, True)
    assert np.all(dk[..., 1:, :] == 0) and np.all(dv[..., 1:, :] == 0), "keys/values after query 0 got gradient"
    assert np.all(dq[..., 1:, :] == 0), "queries other than 0 got gradient from a loss on query 0"
    assert np.any(dv[..., 0, :] != 0), "value 0 got no gradient from the one query that sees it"


@pytest.mark.task("7.3", points=1)
def test_backward_keeps_float32(earlier_tasks_by_the_grader):
    q, k, v = qkv((1, 2, 3, 4), (1, 2, 5, 4), 7)
    g = np.random.default_rng(8).standard_normal(q.shape)
    want = backward(saved(q, k, v, True), g, True)
    values = [a.astype(np.float32) for a in saved(q, k, v, True) if a is not None]
    values.insert(4, None)  # no dropout multipliers
    got = backward(values, g.astype(np.float32), True)
    for what, a, b in zip(("dq", "dk", "dv"), got, want):
        assert a.dtype == np.float32, f"{what} must keep float32, got {a.dtype}"
        assert_close(a, b, f"float32 {what}", rtol=1e-4, atol=1e-5)
