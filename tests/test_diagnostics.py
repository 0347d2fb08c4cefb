"""npgpt.diagnostics: per-layer activation, gradient and update-to-weight statistics."""

import math

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from npgpt.diagnostics import DEAD_BELOW, Diagnostics
from npgpt.nn import GPT, GPTConfig
from npgpt.optim import SGD, AdamW

CFG = GPTConfig(vocab_size=11, block_size=8, n_layer=3, n_head=2, n_embd=8)


def batch(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 11, (2, 8)), rng.integers(0, 11, (2, 8))


def test_activations_are_the_gelu_inputs_and_block_outputs():
    m = GPT(CFG, rng=0)
    for p in m.parameters():  # larger weights: some GELU inputs fall below -3
        p.data *= 40
    diag = Diagnostics(m)
    x, y = batch()
    with diag.activations(step=7):
        m(x)
    # the same quantities by hand, layer by layer
    with npgpt.no_grad():
        h = m.transformer.wpe(F.embedding(x, m.transformer.wte.weight), 0)
        for i, block in enumerate(m.transformer.h):
            u = block.mlp.c_fc(block.ln_2(h + block.attn(block.ln_1(h)))).numpy()
            h = block(h)
            (a,) = diag.acts[i]
            assert a.step == 7
            np.testing.assert_allclose([a.mean, a.std], [u.mean(), u.std()], rtol=1e-5, atol=1e-7)
            assert a.dead == np.mean(u < DEAD_BELOW)
            np.testing.assert_allclose(a.stream_std, h.numpy().std(), rtol=1e-5)
            np.testing.assert_array_equal(diag.preactivations[i], u)
    assert any(diag.acts[i][0].dead > 0 for i in range(3)), "the test needs some dead units to mean anything"


def test_nothing_is_recorded_or_left_behind_unless_asked():
    m = GPT(CFG, rng=0)
    diag = Diagnostics(m)
    x, y = batch()
    with diag.activations(step=0, enabled=False):
        m(x, y)
    assert not diag.acts and not diag.preactivations
    with diag.activations(step=0):
        m(x, y)
    m(x, y)  # outside the context: the model's own forward again, nothing recorded
    assert all(len(v) == 1 for v in diag.acts.values()) and len(diag.acts) == 3
    for module in m.modules():
        assert "forward" not in vars(module), f"{type(module).__name__} kept a wrapped forward"


def test_gradient_statistics():
    m = GPT(CFG, rng=0)
    diag = Diagnostics(m, params=["transformer.h.1.mlp.c_fc.weight", "transformer.h.0.attn.c_attn.bias"])
    with pytest.raises(ValueError, match="has no gradient"):
        diag.record_gradients(0)
    x, y = batch()
    m(x, y)[1].backward()
    diag.record_gradients(3)
    w = dict(m.named_parameters())["transformer.h.1.mlp.c_fc.weight"]
    (g,) = diag.grads["transformer.h.1.mlp.c_fc.weight"]
    expected = [w.grad.std(), w.grad.std() / w.data.std(), np.linalg.norm(w.grad)]
    np.testing.assert_allclose([g.std, g.ratio, g.norm], expected, rtol=1e-5)
    assert math.isnan(diag.grads["transformer.h.0.attn.c_attn.bias"][0].ratio)  # a zero bias has no scale
    with pytest.raises(ValueError, match=r"no parameters \['nope'\]"):
        Diagnostics(m, params=["nope"])


def test_default_tracks_the_matrices_and_embeddings():
    names = list(Diagnostics(GPT(CFG, rng=0)).params)
    assert names[:2] == ["transformer.wte.weight", "transformer.wpe.weight"] and len(names) == 2 + 4 * 3


def test_update_ratio_of_sgd_is_lr_times_grad_over_weight():
    m = GPT(CFG, rng=0)
    diag = Diagnostics(m)
    opt = SGD(m.parameters(), lr=0.1)
    x, y = batch()
    m(x, y)[1].backward()
    expected = {n: np.log10((0.1 * p.grad).std() / p.data.std()) for n, p in diag.params.items()}
    with diag.updates(step=5):
        opt.step()
    for n, rows in diag.update_ratios.items():
        assert rows[0].step == 5
        np.testing.assert_allclose(rows[0].log10_ratio, expected[n], atol=1e-5)


def test_adamw_first_update_ratio_scales_with_lr():
    # Adam's first step is lr * sign(g) in every coordinate: 10x the lr is exactly +1 in log10
    ratios = []
    for lr in (1e-3, 1e-2):
        m = GPT(CFG, rng=0)
        diag = Diagnostics(m)
        opt = AdamW(m.parameters(), lr=lr, weight_decay=0.0)
        m(*batch())[1].backward()
        with diag.updates(step=0):
            opt.step()
        ratios.append(np.array([r[0].log10_ratio for r in diag.update_ratios.values()]))
    np.testing.assert_allclose(ratios[1] - ratios[0], 1.0, atol=1e-4)


def test_no_update_gives_minus_infinity_and_series():
    m = GPT(CFG, rng=0)
    diag = Diagnostics(m)
    for step in (0, 10):
        with diag.updates(step):
            pass
    steps, vals = diag.series("update_ratios", "transformer.wte.weight", "log10_ratio")
    np.testing.assert_array_equal(steps, [0, 10])
    assert np.all(vals == -np.inf)
