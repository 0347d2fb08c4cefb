"""``npgpt.scaling``: the FLOP and parameter counts against hand counts, and the fits recovering
known laws from synthetic data (exact data: to rounding; the offset fit: to its grid's resolution)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from npgpt.nn import GPT, GPTConfig
from npgpt.scaling import (
    bootstrap,
    compute_optimal,
    fit_power_law,
    flops_per_token,
    isoflop_minimum,
    non_embedding_params,
    train_flops,
)

CFG = GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=1, n_embd=16)


def test_non_embedding_params_counts_every_weight_but_the_embeddings():
    model = GPT(CFG, rng=0)
    by_hand = sum(p.data.size for name, p in model.named_parameters() if ".wte." not in name and ".wpe." not in name)
    assert non_embedding_params(CFG) == by_hand
    # per block 12 C^2 + 13 C, plus ln_f's 2 C: 2 * (3072 + 208) + 32
    assert by_hand == 6592


def test_flops_per_token_matches_a_hand_count():
    # forward per layer: qkv 2*16*48 + scores 2*64*16 + weights@v 2*64*16 + proj 2*16*16 + mlp 2*(2*16*64)
    layer = 2 * 16 * 48 + 2 * 64 * 16 + 2 * 64 * 16 + 2 * 16 * 16 + 2 * (2 * 16 * 64)
    assert layer == 10240
    head = 2 * 16 * 65
    assert flops_per_token(CFG) == 3 * (2 * layer + head) == 67680


def test_train_flops_is_6nd():
    assert train_flops(CFG, 1000) == 6 * 6592 * 1000
    # GPT-3 (175B, 300B tokens): 6ND = 3.1e23 FLOPs, the figure of Brown et al. 2020 (3.14e23)
    gpt3 = GPTConfig.preset("gpt3")
    assert train_flops(gpt3, 300e9) == pytest.approx(3.14e23, rel=0.02)


def test_fit_power_law_recovers_an_exact_law():
    x = np.logspace(3, 6, 8)
    law = fit_power_law(x, 7.0 * x**-0.3)
    assert law.exponent == pytest.approx(0.3, abs=1e-12)
    assert law.coef == pytest.approx(7.0, rel=1e-10)
    assert law.exponent_err < 1e-10


def test_fit_power_law_with_an_irreducible_loss():
    x = np.logspace(3, 6, 10)
    law = fit_power_law(x, 1.5 + 4.0 * x**-0.4, offset=True)
    # E is found on a grid refined to min(y) / 400 / 400 (< 2e-5): the exponent is good to ~1e-3
    assert law.offset == pytest.approx(1.5, abs=2e-5)
    assert law.exponent == pytest.approx(0.4, abs=1e-3)


def test_fit_power_law_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2, 3], [1, -1, 2])
    with pytest.raises(ValueError, match="length"):
        fit_power_law([1, 2], [1, 2])


def test_a_wrong_exponent_is_far_outside_the_error_of_a_noisy_fit():
    rng = np.random.default_rng(0)
    x = np.logspace(3, 6, 12)
    y = 5.0 * x**-0.25 * np.exp(rng.normal(0, 0.02, x.shape))
    law = fit_power_law(x, y)
    assert law.exponent_err > 0
    assert abs(law.exponent - 0.25) < 5 * law.exponent_err < abs(law.exponent - 0.35)


def test_isoflop_minimum_finds_the_vertex():
    n = np.logspace(3, 6, 7)
    loss = 2.0 + 0.5 * (np.log10(n) - 4.3) ** 2
    m = isoflop_minimum(1e12, n, loss)
    assert m.interior
    assert math.log10(m.n_opt) == pytest.approx(4.3, abs=1e-9)
    assert m.loss_min == pytest.approx(2.0, abs=1e-9)
    assert m.log10_n_opt_err < 1e-6
    assert m.tokens_opt == pytest.approx(1e12 / (6 * 10**4.3))
    assert m.tokens_per_param == pytest.approx(m.tokens_opt / m.n_opt)


def test_isoflop_minimum_at_an_edge_is_not_interior():
    n = np.logspace(3, 6, 5)
    assert not isoflop_minimum(1e12, n, 3.0 - 0.1 * np.log10(n)).interior  # still falling at the largest N
    assert not isoflop_minimum(1e12, n, 2.0 + 0.5 * (np.log10(n) - 7) ** 2).interior  # vertex beyond the range
    with pytest.raises(ValueError, match=">= 3"):
        isoflop_minimum(1e12, n[:2], n[:2])
    # rising all the way: a parabola through three unevenly spaced points can still bottom out
    # between them, but with the best run at the edge nothing brackets a minimum
    m = isoflop_minimum(1e12, [888, 3312, 7272], [2.70, 2.77, 2.99])
    assert 888 < m.n_opt < 3312 and not m.interior


def test_isoflop_minimum_window_fits_near_the_best_run():
    n = np.logspace(3, 6, 13)
    u = np.log10(n)
    loss = 2.0 + 0.5 * (u - 4.0) ** 2 + np.where(u > 5.1, 3.0 * (u - 5.1), 0.0)  # a kink far to the right
    assert math.log10(isoflop_minimum(1e12, n, loss).n_opt) < 3.99  # the kink drags the whole-range fit
    near = isoflop_minimum(1e12, n, loss, window=1.0)
    assert near.interior and math.log10(near.n_opt) == pytest.approx(4.0, abs=1e-9)


def test_compute_optimal_recovers_the_exponent():
    n = np.logspace(2.5, 6.5, 9)
    minima = []
    for budget in (1e10, 1e11, 1e12, 1e13):
        u_opt = math.log10(0.1 * budget**0.5)
        minima.append(isoflop_minimum(budget, n, 2.0 + 0.3 * (np.log10(n) - u_opt) ** 2))
    law = compute_optimal(minima)
    assert -law.exponent == pytest.approx(0.5, abs=1e-9)
    with pytest.raises(ValueError, match="interior"):
        compute_optimal(minima[:2])


def test_bootstrap_spreads_around_the_fit():
    rng = np.random.default_rng(1)
    x = np.logspace(3, 6, 12)
    y = 5.0 * x**-0.25 * np.exp(rng.normal(0, 0.02, x.shape))
    est = bootstrap(lambda a, b: fit_power_law(a, b).exponent, x, y, n=200, seed=0)
    assert len(est) > 150
    assert abs(np.median(est) - fit_power_law(x, y).exponent) < 2 * est.std()
