"""Layers and positional encodings: float64 gradchecks of inputs and parameters, fused vs composed."""

import numpy as np
import pytest
from conftest import require, require_torch

import npgpt
import npgpt.functional as F
from npgpt.nn import (
    GELU,
    Dropout,
    Embedding,
    LayerNorm,
    LearnedPositionalEmbedding,
    Linear,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    apply_rope_composed,
    layer_norm_composed,
    sinusoidal_table,
)

F64 = np.float64


def x64(*shape, seed=0, scale=1.0):
    return npgpt.tensor(scale * np.random.default_rng(seed).standard_normal(shape), requires_grad=True, dtype=F64)


def check(fn, inputs, params=(), max_rel=1e-4, **kw):
    """gradcheck that must pass, with every relative error "good" or "acceptable" (< 1e-4).

    Linear ops land near 1e-9 to 1e-6: an entry with a small gradient carries the finite
    difference's rounding noise (~1e-8 absolute in float64 with h = 1e-6)."""
    rep = npgpt.gradcheck(fn, inputs, params=list(params), **kw)
    assert rep.ok, f"\n{rep}"
    assert rep.max_rel_err < max_rel, f"\n{rep}"
    return rep


def grads(fn, tensors):
    for t in tensors:
        t.grad = None
    out = fn()
    out.backward(np.random.default_rng(9).standard_normal(out.shape))
    return out.numpy().copy(), [t.grad.copy() for t in tensors]


# ----------------------------------------------------------------------- Linear, Embedding, GELU
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_linear_gradcheck(shape, bias):
    lin = Linear(3, 5, bias=bias, dtype=F64, rng=0)
    check(lin, [x64(*shape)], lin.parameters())


def test_linear_layout_and_default_init():
    lin = Linear(64, 10, rng=0)
    assert lin.weight.shape == (10, 64) and lin.bias.shape == (10,) and lin.weight.dtype == np.float32
    bound = 1 / np.sqrt(64)  # PyTorch's default U(-1/sqrt(in), 1/sqrt(in))
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    x = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    np.testing.assert_allclose(lin(npgpt.tensor(x)).numpy(), x @ lin.weight.data.T + lin.bias.data, rtol=1e-5)
    g = Linear(64, 1000, rng=0, init_std=0.02)
    assert abs(g.weight.data.std() - 0.02) < 1e-3 and not g.bias.data.any()


def test_embedding_gradcheck_with_repeated_ids():
    emb = Embedding(7, 4, dtype=F64, rng=0)
    ids = np.array([[1, 3, 3, 0], [6, 1, 3, 3]])
    check(lambda: emb(ids), [], emb.parameters())
    out = emb(ids)
    out.sum().backward()
    assert np.allclose(emb.weight.grad[3], 4.0) and np.allclose(emb.weight.grad[2], 0.0)


def test_gelu_module_matches_functional_and_gradchecks():
    x = x64(3, 5)
    np.testing.assert_array_equal(GELU()(x).numpy(), F.gelu(x).numpy())
    check(GELU("tanh"), [x])
    check(GELU("none"), [x])
    with pytest.raises(ValueError, match="approximate"):
        GELU("sigmoid")


def test_factory_kwargs():
    assert Linear(2, 3, dtype=F64).weight.dtype == F64
    assert Embedding(5, 2, dtype=F64).weight.dtype == F64
    assert LayerNorm(4, dtype=F64).weight.dtype == F64
    with pytest.raises(npgpt.DeviceError):
        Linear(2, 3, device="gpu")


# ----------------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_gradcheck_including_a_constant_row(bias):
    ln = LayerNorm(6, bias=bias, dtype=F64)
    ln.weight.data[:] = 1 + 0.1 * np.random.default_rng(2).standard_normal(6)
    if bias:
        ln.bias.data[:] = 0.1 * np.random.default_rng(3).standard_normal(6)
    x = x64(2, 3, 6)
    x.data[0, 1] = 0.7  # var = 0: only eps keeps the division finite
    check(ln, [x], ln.parameters())


def test_layernorm_init_and_normalisation():
    ln = LayerNorm(8)
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)
    y = ln(npgpt.tensor(3 + 5 * np.random.default_rng(0).standard_normal((4, 8)), dtype=np.float32)).numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-3)


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_composed_equals_fused(bias):
    rng = np.random.default_rng(4)
    x = x64(3, 4, 7)
    x.data[1, 2] = -1.25  # constant row
    w = npgpt.tensor(1 + 0.1 * rng.standard_normal(7), requires_grad=True, dtype=F64)
    b = npgpt.tensor(rng.standard_normal(7), requires_grad=True, dtype=F64) if bias else None
    ts = [x, w] + ([b] if bias else [])
    y1, g1 = grads(lambda: F.layer_norm(x, w, b, 1e-5), ts)
    y2, g2 = grads(lambda: layer_norm_composed(x, w, b, 1e-5), ts)
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-12)
    for a, c in zip(g1, g2):
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-12)
    # the constant row has rstd = 1/sqrt(eps) ~ 316: strong curvature makes finite differences
    # noisier there (relative error ~6e-6)
    check(lambda x: layer_norm_composed(x, w, b), [x], [w] + ([b] if bias else []))


# ----------------------------------------------------------------------- Dropout
def test_dropout_train_eval_and_seed():
    x = npgpt.tensor(np.ones((200, 50), dtype=np.float32))
    d = Dropout(0.25, rng=0)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(Dropout(0.25, rng=0)(x).numpy(), y)  # same seed, same mask
    assert not np.array_equal(d(x).numpy(), y)  # the generator moves on
    d.eval()
    assert d(x) is x
    assert Dropout(0.0)(x) is x
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


def test_dropout_gradcheck_with_fixed_seed():
    d = Dropout(0.3)

    def fn(x):
        d.set_rng(5)  # the same mask at every evaluation
        return d(x)

    check(fn, [x64(4, 6)])


# ----------------------------------------------------------------------- positional encodings
def test_sinusoidal_table_matches_the_formula():
    T, C = 50, 16
    pe = sinusoidal_table(T, C)
    for pos in (0, 1, 7, 49):
        for i in range(C // 2):
            angle = pos / 10000 ** (2 * i / C)
            assert pe[pos, 2 * i] == pytest.approx(np.sin(angle), abs=1e-15)  # sin on even features
            assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-15)  # cos on odd features
    assert np.all(pe[0, 0::2] == 0) and np.all(pe[0, 1::2] == 1)
    odd = sinusoidal_table(5, 7)  # odd width: the last feature is a sin
    assert odd.shape == (5, 7) and odd[3, 6] == pytest.approx(np.sin(3 / 10000 ** (6 / 7)))


def test_sinusoidal_encoding_is_fixed_and_passes_the_input_gradient():
    pe = SinusoidalPositionalEncoding(10, 6, dtype=F64)
    assert list(pe.parameters()) == [] and pe.state_dict() == {}
    x = x64(2, 4, 6)
    added = pe(x, offset=3).numpy() - x.numpy()
    np.testing.assert_allclose(added, np.broadcast_to(sinusoidal_table(10, 6)[3:7], x.shape), atol=1e-15)
    check(lambda x: pe(x, 2), [x])
    assert SinusoidalPositionalEncoding(4, 6).pe.dtype == np.float32
    with pytest.raises(ValueError, match="block_size=10"):
        pe(x, offset=7)


def test_learned_positional_embedding_gradcheck_with_offset():
    wpe = LearnedPositionalEmbedding(8, 5, dtype=F64, rng=0)
    check(lambda x: wpe(x, 3), [x64(2, 4, 5)], wpe.parameters())
    x = x64(1, 4, 5)
    wpe(x, 3).sum().backward()
    assert np.all(wpe.weight.grad[:3] == 0) and np.all(wpe.weight.grad[7:] == 0) and np.all(wpe.weight.grad[3:7] == 1)
    assert abs(LearnedPositionalEmbedding(1024, 64, rng=0).weight.data.std() - 0.02) < 1e-3
    with pytest.raises(ValueError, match="block_size=8"):
        wpe(x64(1, 9, 5))


@pytest.mark.parametrize("offset", [0, 3])
def test_rope_gradcheck_and_composed_equals_fused(offset):
    rope = RotaryEmbedding(6, 12, dtype=F64)
    x = x64(2, 3, 5, 6)
    check(lambda x: rope(x, offset), [x])
    check(lambda x: rope(x, offset, composed=True), [x])
    y1, (g1,) = grads(lambda: rope(x, offset), [x])
    y2, (g2,) = grads(lambda: rope(x, offset, composed=True), [x])
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-13)


def test_rope_rotates_pairs_i_and_i_plus_half_and_keeps_norms():
    D = 8
    rope = RotaryEmbedding(D, 16, dtype=F64)
    x = x64(1, 1, 16, D)
    y = rope(x).numpy()
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x.numpy(), axis=-1), rtol=1e-12)
    np.testing.assert_allclose(y[..., 0, :], x.numpy()[..., 0, :], atol=0)  # position 0: no rotation
    # pair (i, i + D/2) at position m rotates by m * base^(-2i/D)
    m, i = 5, 1
    a = m * 10000.0 ** (-2 * i / D)
    x1, x2 = x.numpy()[0, 0, m, i], x.numpy()[0, 0, m, i + D // 2]
    assert y[0, 0, m, i] == pytest.approx(x1 * np.cos(a) - x2 * np.sin(a), abs=1e-12)
    assert y[0, 0, m, i + D // 2] == pytest.approx(x2 * np.cos(a) + x1 * np.sin(a), abs=1e-12)


def test_rope_scores_depend_only_on_relative_position():
    D = 8
    rope = RotaryEmbedding(D, 32, dtype=F64)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal(D), rng.standard_normal(D)
    seq = lambda v: npgpt.tensor(np.tile(v, (1, 1, 32, 1)), dtype=F64)  # noqa: E731  same vector everywhere
    rq, rk = rope(seq(q)).numpy()[0, 0], rope(seq(k)).numpy()[0, 0]
    assert rq[10] @ rk[7] == pytest.approx(rq[23] @ rk[20], abs=1e-12)  # both at distance 3
    # an offset is the same as slicing the table
    np.testing.assert_allclose(rope(seq(q)[:, :, :4], offset=9).numpy()[0, 0], rq[9:13], atol=1e-14)


def test_rope_rejects_odd_head_size():
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(5, 8)


def _rope_tables_in_torch(torch, T, D, base=10000.0):
    """RoFormer's angles pos * base^(-2i/D), written in torch float64 from the formula (not from
    npgpt), laid out for the rotate-half pairing: feature i and feature i + D/2 share an angle."""
    inv_freq = base ** -(torch.arange(0, D, 2, dtype=torch.float64) / D)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    angle = torch.cat([angle, angle], dim=-1)  # (T, D)
    return angle.cos(), angle.sin()


@pytest.mark.torch
def test_rope_matches_huggingface_llama_convention():
    torch = require_torch()
    transformers = require("transformers")
    # apply_rotary_pos_emb and LlamaRotaryEmbedding have no top-level name: a rename of this module
    # fails here in CI (require), it cannot become a skip
    llama = require("transformers.models.llama.modeling_llama")
    D, T = 8, 6
    rope = RotaryEmbedding(D, T, dtype=F64)
    q, k = x64(1, 2, T, D, seed=1), x64(1, 2, T, D, seed=2)
    tq_in, tk_in = torch.as_tensor(q.numpy()), torch.as_tensor(k.numpy())

    # both tables against the formula, then HF's rotation with those tables against ours, in float64
    cos, sin = _rope_tables_in_torch(torch, T, D)
    np.testing.assert_allclose(rope.cos, cos.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(rope.sin, sin.numpy(), rtol=0, atol=1e-14)
    tq, tk = llama.apply_rotary_pos_emb(tq_in, tk_in, cos[None], sin[None])
    np.testing.assert_allclose(rope(q).numpy(), tq.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(rope(k).numpy(), tk.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(apply_rope_composed(q, rope.cos, rope.sin).numpy(), tq.numpy(), rtol=0, atol=1e-14)

    # HF's own tables (LlamaRotaryEmbedding, base 10000, computed in float32) and its whole rotation
    config = transformers.LlamaConfig(
        vocab_size=16,
        hidden_size=2 * D,
        intermediate_size=4 * D,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=T,
    )
    hf_rotary = llama.LlamaRotaryEmbedding(config=config)
    positions = torch.arange(T)[None]
    hf_cos, hf_sin = hf_rotary(tq_in.float(), positions)
    np.testing.assert_allclose(rope.cos, hf_cos[0].double().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(rope.sin, hf_sin[0].double().numpy(), rtol=0, atol=1e-6)
    hq, hk = llama.apply_rotary_pos_emb(tq_in.float(), tk_in.float(), hf_cos, hf_sin)
    np.testing.assert_allclose(rope(q).numpy(), hq.double().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(rope(k).numpy(), hk.double().numpy(), rtol=0, atol=1e-5)
    # a KV-cache offset is a position: HF's tables at positions 2..T-1 are ours from offset 2
    off_cos, off_sin = hf_rotary(tq_in.float(), torch.arange(2, T)[None])
    hq2, _ = llama.apply_rotary_pos_emb(tq_in[:, :, 2:].float(), tk_in[:, :, 2:].float(), off_cos, off_sin)
    np.testing.assert_allclose(rope(q[:, :, 2:], offset=2).numpy(), hq2.double().numpy(), rtol=0, atol=1e-5)
