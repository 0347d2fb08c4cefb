"""Grader of assignment 5 (layer normalization).

    pytest lessons/a05_layernorm --lesson-impl=exercises

The forward is compared with npgpt's ``F.layer_norm`` on rows chosen to expose the usual mistakes
(a mean far from 0, a tiny variance, few features); gradients are checked with ``npgpt.gradcheck``
(float64 central differences, random upstream gradient) and compared with npgpt's fused op.
"""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from lessons.grading import assert_close, assert_gradcheck, t64


def _rows(C=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            5.0 + 0.5 * rng.standard_normal(C),  # mean far from 0: RMSNorm is far off
            1e-3 * rng.standard_normal(C),  # variance 1e-6 < eps: eps outside the root is far off
            rng.standard_normal(C) * 3 - 1,  # an ordinary row; with C = 6, 1/(C-1) is 20% off
            np.full(C, 0.5),  # constant: var = 0, xhat = 0
        ]
    )


@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_normalize_matches_layer_norm(impl, eps):
    x = _rows()
    xhat, rstd = impl.normalize(x.copy(), eps)
    C = x.shape[-1]
    ref = F.layer_norm(npgpt.tensor(x), npgpt.tensor(np.ones(C)), npgpt.tensor(np.zeros(C)), eps=eps).numpy()
    assert np.shape(rstd) == (4, 1), f"rstd must keep the reduced axis: shape (4, 1), got {np.shape(rstd)}"
    assert_close(xhat, ref, f"xhat = (x - mean) / sqrt(var + eps), eps={eps}", rtol=1e-10, atol=1e-12)
    assert_close(rstd, 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps), "rstd = 1 / sqrt(biased var + eps)")


def _inputs(shape, seed, bias=True, constant_row=False):
    x = t64(shape, seed, name="x")
    if constant_row:
        x.data[(0,) * (len(shape) - 1)] = 0.7  # one constant row: var = 0
    rng = np.random.default_rng(seed + 100)
    gamma = npgpt.tensor(1 + 0.3 * rng.standard_normal(shape[-1]), requires_grad=True)
    gamma.name = "gamma"
    if not bias:
        return [x, gamma]
    beta = npgpt.tensor(0.3 * rng.standard_normal(shape[-1]), requires_grad=True)
    beta.name = "beta"
    return [x, gamma, beta]


CASES = [
    ("(4,6)", (4, 6), {}),
    ("(2,3,5) batch of sequences", (2, 3, 5), {}),
    ("(2,2,2,4) more leading axes", (2, 2, 2, 4), {}),
    ("no bias", (3, 4), {"bias": False}),
    ("constant row", (3, 5), {"constant_row": True}),
    ("one row (1,7)", (1, 7), {}),
]


@pytest.mark.parametrize("name, shape, kw", CASES, ids=[c[0] for c in CASES])
def test_layer_norm_gradcheck(impl, name, shape, kw):
    inputs = _inputs(shape, 1, **kw)
    assert_gradcheck(lambda *a: impl.LayerNorm.apply(*a, eps=1e-5), inputs, what=f"LayerNorm {name}")


@pytest.mark.parametrize("name, shape, kw", CASES, ids=[c[0] for c in CASES])
def test_layer_norm_matches_npgpt(impl, name, shape, kw):
    mine, theirs = _inputs(shape, 2, **kw), _inputs(shape, 2, **kw)
    out = impl.LayerNorm.apply(*mine, eps=1e-5)
    ref = F.layer_norm(*theirs, eps=1e-5)
    g = np.random.default_rng(3).standard_normal(shape)
    out.backward(g)
    ref.backward(g)
    assert_close(out.numpy(), ref.numpy(), f"LayerNorm forward ({name})")
    for a, b in zip(mine, theirs):
        assert_close(a.grad, b.grad, f"LayerNorm d{a.name} ({name})", rtol=1e-9, atol=1e-10)


def test_constant_row_gradient(impl):
    # var = 0: xhat = 0, and dx = rstd * (ghat - mean(ghat)) with rstd = 1/sqrt(eps)
    x, gamma, beta = _inputs((1, 6), 4)
    x.data[...] = 0.5
    out = impl.LayerNorm.apply(x, gamma, beta, eps=1e-5)
    assert_close(out.numpy()[0], beta.numpy(), "a constant row comes out as beta")
    g = np.random.default_rng(5).standard_normal((1, 6))
    out.backward(g)
    ghat = g[0] * gamma.numpy()
    assert np.all(np.isfinite(x.grad)), "the gradient of a constant row must be finite (eps inside the root)"
    assert_close(x.grad[0], (ghat - ghat.mean()) / np.sqrt(1e-5), "dx of a constant row", rtol=1e-8, atol=1e-8)


def test_dx_is_orthogonal_to_shifts(impl):
    # LayerNorm ignores adding a constant to a row, so dx sums to zero over the features of each row
    x, gamma, beta = _inputs((5, 8), 6)
    impl.LayerNorm.apply(x, gamma, beta).backward(np.random.default_rng(7).standard_normal((5, 8)))
    np.testing.assert_allclose(x.grad.sum(-1), 0.0, atol=1e-12, err_msg="dx must sum to 0 over each row's features")


def test_float32_gradients_stay_float32(impl):
    # npgpt refuses a gradient whose dtype differs from its input's: no silent float64 upcasts
    rng = np.random.default_rng(8)
    x = npgpt.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), requires_grad=True)
    gamma = npgpt.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    beta = npgpt.tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    impl.LayerNorm.apply(x, gamma, beta).backward(np.ones((2, 3, 4), dtype=np.float32))
    assert x.grad.dtype == gamma.grad.dtype == beta.grad.dtype == np.float32
