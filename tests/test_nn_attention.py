"""Attention (composed vs fused), the KV cache, MLP and Block: float64 gradchecks and agreement."""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from npgpt.nn import MLP, Block, CausalSelfAttention, GPTConfig, KVCache, attention_composed, causal_mask

F64 = np.float64


def x64(*shape, seed=0, scale=1.0):
    return npgpt.tensor(scale * np.random.default_rng(seed).standard_normal(shape), requires_grad=True, dtype=F64)


def check(fn, inputs, params=(), max_rel=1e-4, **kw):
    """gradcheck that must pass, every relative error "good" or "acceptable" (< 1e-4)."""
    rep = npgpt.gradcheck(fn, inputs, params=list(params), **kw)
    assert rep.ok, f"\n{rep}"
    assert rep.max_rel_err < max_rel, f"\n{rep}"
    return rep


def randomize(module, seed=0, std=0.5):
    """Replace every parameter by N(0, std^2) noise (LayerNorm gains around 1): with GPT-2's tiny
    init (std 0.02) attention is almost uniform and many gradients are ~1e-6, where the finite
    difference's rounding noise (~1e-8) dominates the relative error."""
    rng = np.random.default_rng(seed)
    for name, p in module.named_parameters():
        gain = name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight"))
        p.data[...] = rng.standard_normal(p.shape) * std + (1.0 if gain else 0.0)
    return module


def run(fn, tensors, seed=9):
    """Forward value and the gradients of every tensor for a fixed random upstream gradient."""
    for t in tensors:
        t.grad = None
    out = fn()
    out.backward(np.random.default_rng(seed).standard_normal(out.shape))
    return out.numpy().copy(), [t.grad.copy() for t in tensors]


def cfg(**kw):
    base = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    return GPTConfig(**{**base, **kw})


# ----------------------------------------------------------------------- the two attention paths
def test_causal_mask_offsets_for_cached_queries():
    np.testing.assert_array_equal(causal_mask(3, 3), np.triu(np.ones((3, 3), bool), 1))
    m = causal_mask(2, 5)  # queries at absolute positions 3 and 4
    np.testing.assert_array_equal(m, [[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])


@pytest.mark.parametrize("H", [1, 2, 4])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("Tq,Tk", [(5, 5), (2, 6), (1, 4)])
def test_composed_equals_fused_forward_and_backward(H, causal, Tq, Tk):
    q, k, v = x64(2, H, Tq, 3, seed=1), x64(2, H, Tk, 3, seed=2), x64(2, H, Tk, 3, seed=3)
    y1, g1 = run(lambda: F.scaled_dot_product_attention(q, k, v, causal=causal), [q, k, v])
    y2, g2 = run(lambda: attention_composed(q, k, v, causal=causal), [q, k, v])
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_composed_equals_fused_with_seeded_dropout():
    q, k, v = x64(2, 2, 6, 4, seed=1), x64(2, 2, 6, 4, seed=2), x64(2, 2, 6, 4, seed=3)
    fused = lambda: F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, rng=np.random.default_rng(4))  # noqa: E731
    comp = lambda: attention_composed(q, k, v, dropout_p=0.3, rng=np.random.default_rng(4))  # noqa: E731
    y1, g1 = run(fused, [q, k, v])
    y2, g2 = run(comp, [q, k, v])
    np.testing.assert_allclose(y1, y2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    y0, _ = run(lambda: attention_composed(q, k, v), [q, k, v])
    assert not np.allclose(y0, y1)  # dropout did something
    check(lambda q, k, v: attention_composed(q, k, v, dropout_p=0.3, rng=np.random.default_rng(4)), [q, k, v])


def test_attention_composed_gradcheck_and_error():
    q, k, v = x64(1, 3, 4, 2, seed=1), x64(1, 3, 4, 2, seed=2), x64(1, 3, 4, 2, seed=3)
    check(attention_composed, [q, k, v])
    check(lambda q, k, v: attention_composed(q, k, v, causal=False), [q, k, v])
    with pytest.raises(ValueError, match="Tq <= Tk"):
        attention_composed(x64(1, 1, 5, 2), k, v)


# ----------------------------------------------------------------------- CausalSelfAttention module
@pytest.mark.parametrize("attention", ["fused", "composed"])
@pytest.mark.parametrize("n_head,pos", [(1, "learned"), (2, "learned"), (4, "learned"), (2, "rope")])
def test_attention_module_gradcheck(attention, n_head, pos):
    attn = randomize(CausalSelfAttention(cfg(n_head=n_head, attention=attention, pos_encoding=pos), dtype=F64, rng=0))
    check(attn, [x64(2, 5, 8, seed=1)], attn.parameters())


@pytest.mark.parametrize("attention", ["fused", "composed"])
def test_attention_module_gradcheck_with_dropout(attention):
    attn = randomize(CausalSelfAttention(cfg(dropout=0.2, attention=attention), dtype=F64, rng=0))

    def fn(x):
        attn.set_rng(11)  # the same masks at every evaluation
        return attn(x)

    check(fn, [x64(2, 5, 8, seed=1)], attn.parameters())


@pytest.mark.parametrize("pos", ["learned", "rope"])
def test_attention_module_fused_equals_composed(pos):
    a = randomize(CausalSelfAttention(cfg(pos_encoding=pos, dropout=0.1), dtype=F64, rng=0))
    x = x64(2, 6, 8, seed=1)
    out = []
    for kind in ("fused", "composed"):
        a.attention = kind
        a.set_rng(3)
        out.append(run(lambda: a(x), [x] + list(a.parameters())))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=0, atol=1e-12)
    for g1, g2 in zip(out[0][1], out[1][1]):
        np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-12)


def test_attention_is_causal():
    attn = randomize(CausalSelfAttention(cfg(), dtype=F64, rng=0))
    x = x64(1, 6, 8)
    y = attn(x).numpy()
    x2 = x.numpy().copy()
    x2[0, 4:] += 10.0  # change the future
    y2 = attn(npgpt.tensor(x2, dtype=F64)).numpy()
    np.testing.assert_allclose(y[0, :4], y2[0, :4], atol=1e-14)
    assert not np.allclose(y[0, 4:], y2[0, 4:])


def test_attention_init_scales_the_residual_projection():
    c = cfg(n_embd=256, n_head=4, n_layer=8)
    attn = CausalSelfAttention(c, rng=0)
    assert attn.c_attn.weight.shape == (3 * 256, 256) and attn.c_proj.weight.shape == (256, 256)
    assert abs(attn.c_attn.weight.data.std() - 0.02) < 5e-4
    assert abs(attn.c_proj.weight.data.std() - 0.02 / np.sqrt(2 * 8)) < 2e-4
    assert not attn.c_attn.bias.data.any() and not attn.c_proj.bias.data.any()
    with pytest.raises(ValueError, match=r"\(B, T, 256\)"):
        attn(npgpt.tensor(np.zeros((2, 256), np.float32)))


# ----------------------------------------------------------------------- KV cache
@pytest.mark.parametrize("attention", ["fused", "composed"])
@pytest.mark.parametrize("pos", ["learned", "rope"])
@pytest.mark.parametrize("grad", [False, True])
def test_attention_with_cache_equals_full_forward(attention, pos, grad):
    attn = randomize(CausalSelfAttention(cfg(attention=attention, pos_encoding=pos), dtype=F64, rng=0))
    x = x64(2, 7, 8, seed=1)
    full = attn(x).numpy()
    cache = KVCache(max_len=4)  # too small on purpose: it must grow
    pieces = []
    ctx = npgpt.no_grad() if not grad else _nullcontext()
    with ctx:
        for a, b in [(0, 3), (3, 4), (4, 5), (5, 7)]:  # a prompt, then single tokens, then two
            pieces.append(attn(x[:, a:b], cache=cache).numpy())
    assert cache.length == 7 and cache.k.shape == (2, 2, 7, 4) and len(cache) == 7
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=0, atol=1e-12)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_cache_with_gradients_is_differentiable():
    attn = randomize(CausalSelfAttention(cfg(), dtype=F64, rng=0))
    x = x64(1, 5, 8, seed=2)

    def stepwise(x):
        cache = KVCache()
        return F.concat([attn(x[:, :3], cache=cache), attn(x[:, 3:], cache=cache)], axis=1)

    np.testing.assert_allclose(stepwise(x).numpy(), attn(x).numpy(), atol=1e-12)
    check(stepwise, [x], attn.parameters())


def test_kv_cache_buffer_crop_reset_and_mismatch():
    c = KVCache(max_len=8)
    k = npgpt.tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))
    with npgpt.no_grad():
        k_all, v_all = c.append(k, k)
        assert k_all.shape == (2, 3, 4, 5) and c._k.shape == (2, 3, 8, 5)  # preallocated
        c.append(k[:, :, :1], k[:, :, :1])
        assert c.length == 5
        np.testing.assert_array_equal(c.k.numpy()[:, :, 4], k.numpy()[:, :, 0])
        c.crop(2)
        assert c.length == 2 and c.v.shape == (2, 3, 2, 5)
        with pytest.raises(ValueError, match="crop"):
            c.crop(3)
        with pytest.raises(ValueError, match="do not match"):
            c.append(k[:1], k[:1])
    c.reset()
    assert c.length == 0 and c.k is None
    assert "length=0" in repr(c)


# ----------------------------------------------------------------------- MLP and Block
def test_mlp_gradcheck_and_shapes():
    mlp = randomize(MLP(cfg(), dtype=F64, rng=0))
    assert mlp.c_fc.weight.shape == (32, 8) and mlp.c_proj.weight.shape == (8, 32)
    check(mlp, [x64(2, 3, 8)], mlp.parameters())


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"pos_encoding": "rope", "attention": "composed"}])
def test_block_gradcheck(kw):
    block = randomize(Block(cfg(**kw), dtype=F64, rng=0))
    check(block, [x64(2, 4, 8)], block.parameters())


def test_block_is_pre_ln_residual():
    block = Block(cfg(), dtype=F64, rng=0)
    x = x64(1, 4, 8)
    h = x + block.attn(block.ln_1(x))
    ref = h + block.mlp(block.ln_2(h))
    np.testing.assert_allclose(block(x).numpy(), ref.numpy(), atol=0)
    names = [n for n, _ in block.named_parameters()]
    assert names[:2] == ["ln_1.weight", "ln_1.bias"] and "attn.c_attn.weight" in names
    assert names[-1] == "mlp.c_proj.bias"


def test_kv_cache_switches_between_buffer_and_graph_modes():
    attn = randomize(CausalSelfAttention(cfg(), dtype=F64, rng=0))
    x = x64(1, 6, 8, seed=4)
    full = attn(x).numpy()
    cache = KVCache()
    with npgpt.no_grad():
        a = attn(x[:, :2], cache=cache).numpy()  # buffer mode
    b = attn(x[:, 2:4], cache=cache)  # gradients on: continues as a graph
    assert b.requires_grad and cache.k.requires_grad
    with npgpt.no_grad():
        c = attn(x[:, 4:], cache=cache).numpy()  # back into a buffer
    assert cache.length == 6 and not cache.k.requires_grad
    np.testing.assert_allclose(np.concatenate([a, b.numpy(), c], axis=1), full, atol=1e-12)
