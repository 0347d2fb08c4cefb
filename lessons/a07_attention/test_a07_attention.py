"""Grader of assignment 7 (scaled dot-product attention and its backward).

    pytest lessons/a07_attention --lesson-impl=exercises

The mask is compared with npgpt's ``causal_mask``, the softmax backward with the explicit Jacobian,
and attention's gradients are checked with ``npgpt.gradcheck`` (float64 central differences, random
upstream gradient) and compared with npgpt's fused ``F.scaled_dot_product_attention``.
"""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from lessons.grading import assert_close, assert_gradcheck, t64
from npgpt.nn import causal_mask as npgpt_causal_mask

MASKS = [(1, 1), (5, 5), (2, 5), (1, 4), (4, 6), (3, 3)]


@pytest.mark.parametrize("Tq, Tk", MASKS, ids=[f"Tq={q} Tk={k}" for q, k in MASKS])
def test_causal_mask(impl, Tq, Tk):
    got = np.asarray(impl.causal_mask(Tq, Tk))
    assert got.dtype == bool, f"causal_mask must be a bool array, got {got.dtype}"
    assert_close(got, npgpt_causal_mask(Tq, Tk), f"causal_mask({Tq}, {Tk}): True where j > i + (Tk - Tq)")


def _probs(shape, seed, masked=True):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(shape)
    if masked:  # zeros where a causal mask would put them
        s = np.where(npgpt_causal_mask(shape[-2], shape[-1]), -np.inf, s)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize(
    "shape, masked",
    [((4, 4), True), ((2, 3, 5, 5), True), ((3, 6), False), ((1, 1), False)],
    ids=["(4,4) masked", "(2,3,5,5) masked", "(3,6)", "(1,1)"],
)
def test_softmax_backward_matches_the_jacobian(impl, shape, masked):
    p = _probs(shape, 1, masked)
    dp = np.random.default_rng(2).standard_normal(shape)
    got = np.asarray(impl.softmax_backward(p.copy(), dp.copy()))
    rows_p, rows_dp = p.reshape(-1, shape[-1]), dp.reshape(-1, shape[-1])
    expected = np.stack([(np.diag(r) - np.outer(r, r)).T @ d for r, d in zip(rows_p, rows_dp)]).reshape(shape)
    assert_close(got, expected, "dS = J^T dP with J_ij = P_i (delta_ij - P_j), row by row")


# (name, q shape, k/v shape, causal)
ATTN = [
    ("causal (2,2,5,4)", (2, 2, 5, 4), (2, 2, 5, 4), True),
    ("no mask (1,3,4,2)", (1, 3, 4, 2), (1, 3, 4, 2), False),
    ("cached Tq=2 Tk=5", (1, 2, 2, 3), (1, 2, 5, 3), True),
    ("one query Tq=1 Tk=4", (2, 1, 1, 3), (2, 1, 4, 3), True),
    ("head size 1", (1, 1, 4, 1), (1, 1, 4, 1), True),
    ("no mask Tq=3 Tk=5", (1, 2, 3, 4), (1, 2, 5, 4), False),
]
ATTN_IDS = [a[0] for a in ATTN]


def _qkv(qs, ks, seed):
    return [t64(qs, seed, name="q"), t64(ks, seed + 1, name="k"), t64(ks, seed + 2, name="v")]


@pytest.mark.parametrize("name, qs, ks, causal", ATTN, ids=ATTN_IDS)
def test_attention_gradcheck(impl, name, qs, ks, causal):
    assert_gradcheck(
        lambda q, k, v: impl.ScaledDotProductAttention.apply(q, k, v, causal=causal),
        _qkv(qs, ks, 1),
        what=f"attention {name}",
    )


@pytest.mark.parametrize("name, qs, ks, causal", ATTN, ids=ATTN_IDS)
def test_attention_matches_npgpt(impl, name, qs, ks, causal):
    mine, theirs = _qkv(qs, ks, 4), _qkv(qs, ks, 4)
    out = impl.ScaledDotProductAttention.apply(*mine, causal=causal)
    ref = F.scaled_dot_product_attention(*theirs, causal=causal)
    g = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(g)
    ref.backward(g)
    assert_close(out.numpy(), ref.numpy(), f"attention forward ({name})")
    for a, b in zip(mine, theirs):
        assert_close(a.grad, b.grad, f"attention d{a.name} ({name})")


def test_no_gradient_reaches_the_future(impl):
    # a loss on query 0 alone: only key/value 0 may receive gradient, the later ones are masked
    q, k, v = _qkv((1, 1, 5, 3), (1, 1, 5, 3), 6)
    out = impl.ScaledDotProductAttention.apply(q, k, v, causal=True)
    g = np.zeros(out.shape)
    g[..., 0, :] = 1.0
    out.backward(g)
    assert np.all(k.grad[..., 1:, :] == 0) and np.all(v.grad[..., 1:, :] == 0), "keys/values after query 0 got gradient"
    assert np.all(q.grad[..., 1:, :] == 0), "queries other than 0 got gradient from a loss on query 0"
    assert np.any(v.grad[..., 0, :] != 0)


def test_inside_a_multi_head_layer(impl):
    # your op inside a small multi-head attention layer built from npgpt ops: x -> q, k, v -> heads -> out
    B, T, C, H = 2, 4, 6, 2
    x, w_qkv, w_out = t64((B, T, C), 7, name="x"), t64((3 * C, C), 8, name="W_qkv"), t64((C, C), 9, name="W_out")

    def layer(x, w_qkv, w_out):
        q, k, v = F.linear(x, w_qkv).split(C, axis=2)
        q, k, v = (a.reshape(B, T, H, C // H).transpose(1, 2) for a in (q, k, v))
        y = impl.ScaledDotProductAttention.apply(q, k, v, causal=True)
        return F.linear(y.transpose(1, 2).reshape(B, T, C), w_out)

    assert_gradcheck(layer, [x, w_qkv, w_out], what="a multi-head attention layer around your op")


def test_float32_gradients_stay_float32(impl):
    # npgpt refuses a gradient whose dtype differs from its input's: no silent float64 upcasts
    rng = np.random.default_rng(10)
    q, k, v = (npgpt.tensor(rng.standard_normal((1, 2, 3, 4)).astype(np.float32), requires_grad=True) for _ in range(3))
    out = impl.ScaledDotProductAttention.apply(q, k, v)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert q.grad.dtype == k.grad.dtype == v.grad.dtype == np.float32
