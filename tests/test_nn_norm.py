"""GPTConfig(norm=...): pre-LN (the default), post-LN (GPT-1) and no LayerNorm at all."""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from npgpt.nn import GPT, Block, GPTConfig, Identity, LayerNorm, parameter_count

F64 = np.float64


def cfg(**kw):
    base = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    return GPTConfig(**{**base, **kw})


def randomize(model, seed=0, std=0.3):
    """Parameters ~ N(0, std^2), LayerNorm gains around 1: gradients well above finite-difference noise."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * std + (1.0 if "ln_" in name and name.endswith("weight") else 0.0)
    return model


def test_norm_is_validated_and_round_trips():
    with pytest.raises(ValueError, match=r"GPTConfig.norm must be one of \('pre', 'post', 'none'\), got 'mid'"):
        cfg(norm="mid")
    assert cfg().norm == "pre"  # the default: every existing model and checkpoint is pre-LN
    assert GPTConfig.from_dict(cfg(norm="post").to_dict()).norm == "post"
    old = {k: v for k, v in cfg().to_dict().items() if k != "norm"}  # a config saved before the field
    assert GPTConfig.from_dict(old).norm == "pre"


def test_the_default_model_is_unchanged():
    # same seed, same weights whatever the arrangement: LayerNorms draw no random numbers
    pre, post = GPT(cfg(), rng=0), GPT(cfg(norm="post"), rng=0)
    for name, w in post.state_dict().items():
        np.testing.assert_array_equal(w, pre.state_dict()[name])
    assert isinstance(pre.transformer.ln_f, LayerNorm) and isinstance(pre.transformer.h[0].ln_1, LayerNorm)


@pytest.mark.parametrize("norm", ["pre", "post", "none"])
def test_modules_and_parameter_count(norm):
    c = cfg(norm=norm)
    m = GPT(c, rng=0)
    names = [n for n, _ in m.named_parameters()]
    assert ("transformer.ln_f.weight" in names) == (norm == "pre")  # GPT-1 (post-LN) has no ln_f
    assert ("transformer.h.0.ln_1.weight" in names) == (norm != "none")
    assert m.num_parameters() == parameter_count(c)
    if norm == "post":
        assert parameter_count(c) == parameter_count(cfg(), arch="gpt1")


def test_post_ln_block_is_the_formula():
    block = randomize(Block(cfg(norm="post"), rng=0, dtype=F64), seed=1)
    x = npgpt.tensor(np.random.default_rng(2).standard_normal((2, 5, 8)))
    with npgpt.no_grad():
        y = block(x).numpy()
        h = block.ln_1(x + block.attn(x))  # x = LN(x + attn(x)), then x = LN(x + mlp(x))
        expected = block.ln_2(h + block.mlp(h)).numpy()
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-14)
    # and it is not the pre-LN block: the output rows are normalised (mean 0 when ln_2 has no shift)
    assert not np.allclose(y, Block(cfg(), rng=0, dtype=F64)(x).numpy())


def test_no_ln_block_adds_the_raw_sublayers():
    block = randomize(Block(cfg(norm="none"), rng=0, dtype=F64), seed=1)
    assert isinstance(block.ln_1, Identity) and isinstance(block.ln_2, Identity)
    x = npgpt.tensor(np.random.default_rng(2).standard_normal((2, 5, 8)))
    with npgpt.no_grad():
        h = x + block.attn(x)
        np.testing.assert_allclose(block(x).numpy(), (h + block.mlp(h)).numpy(), rtol=0, atol=1e-14)


def test_post_ln_output_is_normalised():
    block = Block(cfg(norm="post"), rng=0, dtype=F64)  # ln_2: gain 1, shift 0
    x = npgpt.tensor(np.random.default_rng(3).standard_normal((2, 5, 8)) * 10)
    with npgpt.no_grad():
        y = block(x).numpy()
        h = block.ln_1(x + block.attn(x))
        z = (h + block.mlp(h)).numpy()  # what ln_2 normalises
    # each row is (z - mean) / sqrt(var + eps): mean 0 and variance var / (var + eps), a hair below 1
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), z.var(-1) / (z.var(-1) + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("norm", ["pre", "post", "none"])
def test_block_gradcheck(norm):
    block = randomize(Block(cfg(norm=norm), rng=0, dtype=F64), seed=1)
    x = npgpt.tensor(np.random.default_rng(2).standard_normal((2, 4, 8)), requires_grad=True)
    rep = npgpt.gradcheck(lambda x: block(x), [x], params=list(block.parameters()), max_samples=30)
    assert rep.ok and rep.max_rel_err < 1e-4, f"\n{rep}"


@pytest.mark.parametrize("norm", ["post", "none"])
def test_gpt_loss_gradcheck(norm):
    m = randomize(GPT(cfg(norm=norm), rng=0, dtype=F64))
    rng = np.random.default_rng(0)
    idx, tgt = rng.integers(0, 13, (2, 5)), rng.integers(0, 13, (2, 5))
    rep = npgpt.gradcheck(lambda: m(idx, tgt)[1], [], params=list(m.parameters()), max_samples=30)
    assert rep.ok and rep.max_rel_err < 1e-4, f"\n{rep}"


@pytest.mark.parametrize("norm", ["post", "none"])
def test_kv_cache_is_exact_for_every_arrangement(norm):
    m = randomize(GPT(cfg(norm=norm), rng=0, dtype=F64), std=0.2).eval()
    idx = np.random.default_rng(4).integers(0, 13, (1, 8))
    with npgpt.no_grad():
        full = m(idx)[0].numpy()
        cache = m.new_cache()
        steps = [m(idx[:, :3], cache=cache)[0].numpy()] + [
            m(idx[:, t : t + 1], cache=cache)[0].numpy() for t in range(3, 8)
        ]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=0, atol=1e-12)


def test_only_pre_ln_has_a_huggingface_form(tmp_path):
    with pytest.raises(ValueError, match="save_hf: GPT-2 is pre-LN; norm='post' has no HF GPT-2 form"):
        GPT(cfg(norm="post"), rng=0).save_hf(tmp_path / "m")


def test_post_ln_loss_matches_a_hand_written_forward():
    # the whole model: embeddings, blocks as GPT-1, no ln_f, tied head
    m = randomize(GPT(cfg(norm="post"), rng=0, dtype=F64))
    idx = np.random.default_rng(5).integers(0, 13, (2, 6))
    t = m.transformer
    with npgpt.no_grad():
        x = F.embedding(idx, t.wte.weight) + t.wpe.weight.numpy()[:6]
        for b in t.h:
            x = b.ln_1(x + b.attn(x))
            x = b.ln_2(x + b.mlp(x))
        np.testing.assert_allclose(m(idx)[0].numpy(), F.linear(x, t.wte.weight).numpy(), rtol=0, atol=1e-12)
