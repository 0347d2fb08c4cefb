"""Choosing the next token (``npgpt.sampling``): temperature, top-k, top-p, and clear errors.

Empirical checks draw many tokens at once (one row of logits per draw, one uniform number per row)
with a fixed seed, and compare counts with the expected distribution by a chi-square statistic.
"""

from __future__ import annotations

import numpy as np
import pytest

from npgpt.sampling import check_sampling_args, filter_logits, sample_next


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def draw(logits_row, n, seed=0, **kw):
    """n samples from one row of logits, as counts per token."""
    rows = np.tile(np.asarray(logits_row)[None, :], (n, 1))
    ids = sample_next(rows, rng=np.random.default_rng(seed), **kw)
    assert ids.shape == (n,) and ids.dtype.kind == "i"
    return np.bincount(ids, minlength=rows.shape[1])


def chi_square(counts, probs):
    """Pearson's statistic over the tokens with probability > 0 (none may be drawn with probability 0)."""
    n = counts.sum()
    assert counts[probs == 0].sum() == 0, f"drew tokens of probability 0: {np.flatnonzero((probs == 0) & (counts > 0))}"
    keep = probs > 0
    expected = n * probs[keep]
    return float(((counts[keep] - expected) ** 2 / expected).sum()), int(keep.sum()) - 1


# chi-square with k degrees of freedom: P(X > 3k + 10) < 1e-4 for every k <= 20
def chi_bound(dof):
    return 3 * dof + 10


LOGITS = np.array([1.2, -0.3, 0.5, 2.0, -1.5, 0.0, 0.9, -0.7])


# ----------------------------------------------------------------------------- temperature
def test_temperature_zero_is_argmax():
    logits = np.random.default_rng(0).normal(size=(6, 20))
    assert np.array_equal(sample_next(logits, temperature=0), logits.argmax(axis=-1))
    assert np.array_equal(sample_next(logits.astype(np.float32), temperature=0), logits.argmax(axis=-1))
    # top-k / top-p do not change a greedy choice
    assert np.array_equal(sample_next(logits, temperature=0, top_k=3, top_p=0.5), logits.argmax(axis=-1))


@pytest.mark.parametrize("T", [1.0, 0.5, 2.0])
def test_frequencies_match_softmax_over_temperature(T):
    counts = draw(LOGITS, 40_000, temperature=T)
    stat, dof = chi_square(counts, softmax(LOGITS / T))
    assert dof == 7 and stat < chi_bound(dof), f"chi2 = {stat:.1f} with {dof} dof"


def test_the_chi_square_check_would_notice_the_wrong_temperature():
    counts = draw(LOGITS, 40_000, temperature=0.5)
    stat, dof = chi_square(counts, softmax(LOGITS))  # expected under T = 1
    assert stat > 100 * chi_bound(dof)


def test_filter_logits_scales_by_temperature():
    z = np.random.default_rng(1).normal(size=(3, 9))
    np.testing.assert_allclose(filter_logits(z, 0.7), z / 0.7, rtol=1e-15)
    out = filter_logits(z.astype(np.float32), 2.0)
    assert out.dtype == np.float32


def test_large_and_masked_logits():
    z = np.array([[1000.0, 0.0, -np.inf, 999.0]])
    counts = draw(z[0], 5000)
    assert counts[2] == 0 and counts[1] == 0 and counts[0] > counts[3] > 0  # e^1 : 1, no overflow
    z32 = np.array([[-np.inf, 50.0, -np.inf]], dtype=np.float32)
    assert sample_next(z32, 1.0, rng=np.random.default_rng(0))[0] == 1


# ----------------------------------------------------------------------------- top-k
def test_top_k_keeps_exactly_k():
    z = np.random.default_rng(2).normal(size=(5, 20))
    for k in range(1, 21):
        kept = np.isfinite(filter_logits(z, 1.0, top_k=k))
        assert (kept.sum(axis=-1) == k).all()
        best = np.argsort(-z, axis=-1)[:, :k]
        assert np.take_along_axis(kept, best, axis=-1).all()  # and they are the k largest
    assert np.isfinite(filter_logits(z, 1.0, top_k=50)).all()  # k > V keeps everything


def test_top_k_frequencies():
    counts = draw(LOGITS, 40_000, top_k=3)
    top3 = np.argsort(-LOGITS)[:3]
    probs = np.zeros_like(LOGITS)
    probs[top3] = softmax(LOGITS[top3])
    stat, dof = chi_square(counts, probs)  # also asserts that no other token was ever drawn
    assert set(np.flatnonzero(counts)) == set(top3.tolist())
    assert stat < chi_bound(dof)


def test_top_k_1_is_greedy():
    z = np.random.default_rng(3).normal(size=(50, 12))
    for T in (0.5, 1.0, 3.0):
        assert np.array_equal(sample_next(z, T, top_k=1, rng=np.random.default_rng(0)), z.argmax(axis=-1))


# ----------------------------------------------------------------------------- top-p
PROBS = np.array([0.5, 0.3, 0.15, 0.05])


@pytest.mark.parametrize(
    "p, kept", [(0.3, 1), (0.5, 1), (0.5001, 2), (0.8, 2), (0.81, 3), (0.95, 3), (0.951, 4), (1.0, 4)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept, dtype):
    order = np.array([2, 0, 3, 1])  # not sorted: the filter must rank tokens itself
    z = np.log(PROBS[order]).astype(dtype)[None, :]
    mask = np.isfinite(filter_logits(z, 1.0, top_p=p))[0]
    assert mask.sum() == kept
    assert set(order[mask].tolist()) == set(range(kept))  # the most likely ones


def test_top_p_frequencies():
    z = np.log(PROBS)
    counts = draw(z, 40_000, top_p=0.8)
    stat, dof = chi_square(counts, np.array([0.5, 0.3, 0.0, 0.0]) / 0.8)
    assert stat < chi_bound(dof)


def test_top_p_after_temperature_and_with_top_k():
    z = np.log(PROBS)[None, :]
    # T = 0.5 squares and renormalises the probabilities: 0.5^2 / sum = 0.68, so p = 0.6 keeps one
    assert np.isfinite(filter_logits(z, 0.5, top_p=0.6)).sum() == 1
    assert np.isfinite(filter_logits(z, 1.0, top_p=0.6)).sum() == 2
    assert np.isfinite(filter_logits(z, 1.0, top_k=2, top_p=0.99)).sum() == 2


def test_tiny_top_p_keeps_the_top_token():
    z = np.random.default_rng(4).normal(size=(7, 30))
    assert (np.isfinite(filter_logits(z, 1.0, top_p=1e-300)).sum(axis=-1) == 1).all()
    assert np.array_equal(sample_next(z, 1.0, top_p=1e-12, rng=np.random.default_rng(0)), z.argmax(axis=-1))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": -0.5}, r"temperature must be a number >= 0 \(0 = greedy\), got -0.5"),
        ({"temperature": float("nan")}, "temperature must be a number >= 0"),
        ({"temperature": float("inf")}, "temperature must be a number >= 0"),
        ({"temperature": None}, "temperature must be a number >= 0"),
        ({"top_k": 0}, r"top_k must be an integer >= 1 \(or None for no limit\), got 0"),
        ({"top_k": -3}, "top_k must be an integer >= 1"),
        ({"top_k": 2.5}, "top_k must be an integer >= 1.*got 2.5"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\] \(or None for no limit\), got 0.0"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\].*got 1.5"),
        ({"top_p": -0.1}, r"top_p must be in \(0, 1\]"),
        ({"top_p": float("nan")}, r"top_p must be in \(0, 1\]"),
    ],
)
def test_invalid_settings_raise_clear_errors(kwargs, match):
    args = {"temperature": 1.0, "top_k": None, "top_p": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        check_sampling_args(**args)
    with pytest.raises(ValueError, match=match):
        sample_next(LOGITS[None, :], **args, rng=np.random.default_rng(0))


def test_valid_edge_settings():
    check_sampling_args(0, 1, 1.0)
    check_sampling_args(1e-3, 10**6, 1e-9)
    check_sampling_args(5.0, 3.0, None)  # an integral float is an integer


def test_unseeded_sampling_works():
    ids = sample_next(np.tile(LOGITS, (10, 1)), 1.0)
    assert ids.shape == (10,) and ((0 <= ids) & (ids < 8)).all()
