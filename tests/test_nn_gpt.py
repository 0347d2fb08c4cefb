"""GPTConfig, parameter counts, the GPT model: names, tied head, init, gradients, KV cache, errors."""

import json

import numpy as np
import pytest
from conftest import logit_rounding_bound, require, require_torch, requires_cuda

import npgpt
import npgpt.functional as F
from npgpt.nn import GPT, PRESETS, GPTConfig, parameter_count

F64 = np.float64


def cfg(**kw):
    base = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    return GPTConfig(**{**base, **kw})


def ids(B, T, V=13, seed=0):
    return np.random.default_rng(seed).integers(0, V, (B, T))


def randomize(model, seed=0, std=0.3):
    """Parameters ~ N(0, std^2) (LayerNorm gains around 1): gradients well above finite-difference noise."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * std + (1.0 if "ln_" in name and name.endswith("weight") else 0.0)
    return model


# ----------------------------------------------------------------------- config
def test_config_validation_errors():
    with pytest.raises(ValueError, match="n_embd=10 is not divisible by n_head=3"):
        cfg(n_embd=10, n_head=3)
    for field in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
        with pytest.raises(ValueError, match=f"{field} must be a positive integer"):
            cfg(**{field: 0})
    with pytest.raises(ValueError, match="positive integer"):
        cfg(n_layer=2.0)
    with pytest.raises(ValueError, match="pos_encoding must be one of"):
        cfg(pos_encoding="alibi")
    with pytest.raises(ValueError, match="attention must be one of"):
        cfg(attention="flash")
    with pytest.raises(ValueError, match="dropout"):
        cfg(dropout=1.0)
    with pytest.raises(ValueError, match="ln_eps"):
        cfg(ln_eps=0)
    with pytest.raises(ValueError, match="even head size"):
        cfg(n_embd=6, n_head=2, pos_encoding="rope")


def test_config_dict_round_trip_is_json():
    c = cfg(dropout=0.1, bias=False, pos_encoding="rope", attention="composed")
    d = json.loads(json.dumps(c.to_dict()))
    assert GPTConfig.from_dict(d) == c
    with pytest.raises(ValueError, match="unknown keys \\['n_embed'\\]"):
        GPTConfig.from_dict({**d, "n_embed": 4})


def test_presets():
    g = GPTConfig.preset("gpt2")
    assert (g.vocab_size, g.block_size, g.n_layer, g.n_head, g.n_embd) == (50257, 1024, 12, 12, 768)
    assert GPTConfig.preset("gpt2", dropout=0.1).dropout == 0.1
    g3 = GPTConfig.preset("gpt3")
    assert (g3.n_layer, g3.n_head, g3.n_embd, g3.block_size, g3.vocab_size) == (96, 96, 12288, 2048, 50257)
    g1 = GPTConfig.preset("gpt1")
    assert (g1.vocab_size, g1.block_size, g1.n_layer, g1.n_embd, g1.n_head) == (40478, 512, 12, 768, 12)
    assert set(PRESETS) == {"gpt1", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3"}
    with pytest.raises(ValueError, match="unknown preset"):
        GPTConfig.preset("gpt4")


# ----------------------------------------------------------------------- parameter counts
def test_published_parameter_counts():
    assert parameter_count(GPTConfig.preset("gpt2")) == 124_439_808
    assert parameter_count(GPTConfig.preset("gpt2-medium")) == 354_823_168
    assert parameter_count(GPTConfig.preset("gpt2-large")) == 774_030_080
    assert parameter_count(GPTConfig.preset("gpt2-xl")) == 1_557_611_200  # "1.5B"
    assert parameter_count(GPTConfig.preset("gpt3")) == 174_604_259_328  # "175B"
    # GPT-1 is post-LN with no final LayerNorm: 2 * 768 fewer than the same shape as GPT-2
    g1 = GPTConfig.preset("gpt1")
    assert parameter_count(g1, arch="gpt1") == 116_534_784  # "117M"
    assert parameter_count(g1) - parameter_count(g1, arch="gpt1") == 2 * 768
    with pytest.raises(ValueError, match="arch"):
        parameter_count(g1, arch="llama")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"bias": False},
        {"pos_encoding": "sinusoidal"},
        {"pos_encoding": "rope", "bias": False},
        {"n_layer": 3, "n_head": 4, "n_embd": 16, "vocab_size": 50, "block_size": 5},
    ],
)
def test_parameter_count_equals_instantiated_model(kw):
    c = cfg(**kw)
    assert GPT(c, rng=0).num_parameters() == parameter_count(c)


def test_gpt2_small_has_124_439_808_parameters():
    m = GPT(GPTConfig.preset("gpt2"), rng=0)
    assert m.num_parameters() == 124_439_808
    assert m.transformer.wte.weight.shape == (50257, 768) and m.transformer.wte.weight.dtype == np.float32


# ----------------------------------------------------------------------- names, tied head, init
def expected_names(L, bias=True, learned=True):
    names = ["transformer.wte.weight"] + (["transformer.wpe.weight"] if learned else [])
    for i in range(L):
        for mod in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            names.append(f"transformer.h.{i}.{mod}.weight")
            if bias:
                names.append(f"transformer.h.{i}.{mod}.bias")
    return names + ["transformer.ln_f.weight"] + (["transformer.ln_f.bias"] if bias else [])


def test_parameter_names_and_shapes():
    m = GPT(cfg(), rng=0)
    sd = m.state_dict()
    assert list(sd) == expected_names(2)
    C, V, T = 8, 13, 8
    shapes = {
        "transformer.wte.weight": (V, C),
        "transformer.wpe.weight": (T, C),
        "transformer.h.1.attn.c_attn.weight": (3 * C, C),
        "transformer.h.1.attn.c_attn.bias": (3 * C,),
        "transformer.h.1.attn.c_proj.weight": (C, C),
        "transformer.h.1.mlp.c_fc.weight": (4 * C, C),
        "transformer.h.1.mlp.c_proj.weight": (C, 4 * C),
        "transformer.ln_f.weight": (C,),
    }
    for k, s in shapes.items():
        assert sd[k].shape == s, k
    assert list(GPT(cfg(bias=False), rng=0).state_dict()) == expected_names(2, bias=False)
    for pos in ("sinusoidal", "rope"):
        assert list(GPT(cfg(pos_encoding=pos), rng=0).state_dict()) == expected_names(2, learned=False)
    assert all(p.name == n for n, p in m.named_parameters())  # gradcheck reports show full names


def test_output_head_is_tied_to_the_token_embedding():
    m = randomize(GPT(cfg(), rng=0, dtype=F64))
    assert not any("lm_head" in n for n in m.state_dict())
    idx, tgt = ids(2, 6), ids(2, 6, seed=1)
    logits, loss = m(idx, tgt)
    loss.backward()
    g_tied = m.transformer.wte.weight.grad.copy()
    # recompute with two separate copies of the matrix: input embedding and output head
    W = m.transformer.wte.weight.data
    w_in = npgpt.tensor(W.copy(), requires_grad=True, dtype=F64)
    w_out = npgpt.tensor(W.copy(), requires_grad=True, dtype=F64)
    x = m.transformer.wpe(F.embedding(idx, w_in))
    for block in m.transformer.h:
        x = block(x)
    logits2 = F.linear(m.transformer.ln_f(x), w_out)
    np.testing.assert_allclose(logits2.numpy(), logits.numpy(), atol=1e-13)
    F.cross_entropy(logits2, tgt).backward()
    assert np.abs(w_in.grad).max() > 0 and np.abs(w_out.grad).max() > 0
    np.testing.assert_allclose(g_tied, w_in.grad + w_out.grad, atol=1e-14)


def test_init_statistics():
    L = 4
    m = GPT(GPTConfig(vocab_size=2000, block_size=256, n_layer=L, n_head=4, n_embd=128), rng=0)
    sd = m.state_dict()
    resid = 0.02 / np.sqrt(2 * L)
    for name, a in sd.items():
        if name.endswith("bias"):
            assert not a.any(), name
        elif ".ln_" in name or "ln_f" in name:
            assert np.all(a == 1), name
        elif name.endswith(("attn.c_proj.weight", "mlp.c_proj.weight")):
            assert abs(a.std() - resid) < 0.05 * resid and abs(a.mean()) < 0.1 * resid, name
        else:  # wte, wpe, c_attn, c_fc
            assert abs(a.std() - 0.02) < 0.05 * 0.02 and abs(a.mean()) < 0.002, name
        assert a.dtype == np.float32


def test_init_is_deterministic_and_dtype_independent():
    a, b, c = GPT(cfg(), rng=3), GPT(cfg(), rng=np.random.default_rng(3)), GPT(cfg(), rng=4)
    d = GPT(cfg(), rng=3, dtype=F64)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
        np.testing.assert_array_equal(v.astype(F64), d.state_dict()[k])  # float64 = upcast float32
        assert not np.array_equal(v, c.state_dict()[k]) or k.endswith("bias") or ".ln_" in k or "ln_f" in k


# ----------------------------------------------------------------------- forward, loss, gradients
def test_forward_shapes_dtypes_and_loss():
    m = GPT(cfg(), rng=0)
    idx, tgt = ids(3, 5), ids(3, 5, seed=1)
    logits, loss = m(idx, tgt)
    assert logits.shape == (3, 5, 13) and logits.dtype == np.float32 and loss.dtype == np.float32
    assert m(idx)[1] is None
    z = logits.numpy().reshape(-1, 13).astype(F64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    ref = (lse - z[np.arange(15), tgt.reshape(-1)]).mean()
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    assert loss.item() == pytest.approx(np.log(13), rel=0.05)  # fresh model: about uniform
    t2 = tgt.copy()
    t2[:, :2] = -100  # ignored positions
    keep = t2.reshape(-1) != -100
    ref2 = (lse - z[np.arange(15), np.where(keep, t2.reshape(-1), 0)])[keep].mean()
    assert m(idx, t2)[1].item() == pytest.approx(ref2, rel=1e-5)
    # int Tensors are accepted too
    np.testing.assert_array_equal(m(npgpt.tensor(idx))[0].numpy(), logits.numpy())


def test_no_graph_under_no_grad():
    m = GPT(cfg(), rng=0)
    with npgpt.no_grad():
        logits, loss = m(ids(1, 4), ids(1, 4))
    assert not logits.requires_grad and logits._ctx is None and loss._ctx is None


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"bias": False},
        {"pos_encoding": "sinusoidal"},
        {"pos_encoding": "rope"},
        {"attention": "composed"},
    ],
)
def test_gpt_loss_gradcheck_every_parameter(kw):
    m = randomize(GPT(cfg(**kw), rng=0, dtype=F64))
    idx, tgt = ids(2, 5), ids(2, 5, seed=1)
    tgt[0, 1] = -100
    rep = npgpt.gradcheck(lambda: m(idx, tgt)[1], [], params=list(m.parameters()), max_samples=40)
    assert rep.ok, f"\n{rep}"
    assert rep.max_rel_err < 1e-4, f"\n{rep}"
    assert len(rep.inputs) == len(list(m.parameters()))


def test_gpt_gradcheck_with_dropout_fixed_seed():
    m = randomize(GPT(cfg(dropout=0.2), rng=0, dtype=F64))
    idx, tgt = ids(2, 5), ids(2, 5, seed=1)

    def loss():
        m.set_rng(7)  # the same masks at every evaluation
        return m(idx, tgt)[1]

    rep = npgpt.gradcheck(loss, [], params=list(m.parameters()), max_samples=30)
    assert rep.ok and rep.max_rel_err < 1e-4, f"\n{rep}"


def test_dropout_train_vs_eval_and_reproducible():
    c = cfg(dropout=0.3)
    idx = ids(2, 6)
    a, b = GPT(c, rng=0), GPT(c, rng=0)
    la, lb = a(idx)[0].numpy(), b(idx)[0].numpy()
    np.testing.assert_array_equal(la, lb)  # same seed: same weights and same dropout stream
    assert not np.array_equal(a(idx)[0].numpy(), la)  # the stream moves on
    a.eval()
    e1, e2 = a(idx)[0].numpy(), a(idx)[0].numpy()
    np.testing.assert_array_equal(e1, e2)
    # dropout's stream is separate from init: turning dropout on does not change the weights
    for k, v in GPT(cfg(), rng=0).state_dict().items():
        np.testing.assert_array_equal(v, a.state_dict()[k])


def test_load_state_dict_reproduces_the_model():
    a, b = GPT(cfg(), rng=0), GPT(cfg(), rng=1)
    idx = ids(2, 7)
    assert not np.allclose(a(idx)[0].numpy(), b(idx)[0].numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(idx)[0].numpy(), b(idx)[0].numpy())
    with pytest.raises(ValueError, match="transformer.wpe.weight"):
        GPT(cfg(pos_encoding="rope"), rng=0).load_state_dict(a.state_dict())


# ----------------------------------------------------------------------- KV cache
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
@pytest.mark.parametrize("attention", ["fused", "composed"])
@pytest.mark.parametrize("dtype", [F64, np.float32])
def test_cached_steps_equal_full_forward(pos, attention, dtype):
    m = GPT(cfg(pos_encoding=pos, attention=attention, block_size=10), rng=0, dtype=dtype)
    if dtype == F64:
        randomize(m, std=0.2)  # well away from GPT-2's near-uniform init
    m.eval()
    idx = ids(2, 10)
    with npgpt.no_grad():
        full = m(idx)[0].numpy()
        cache = m.new_cache()
        steps = [m(idx[:, :4], cache=cache)[0].numpy()]  # the prompt at once
        for t in range(4, 10):  # then one token at a time
            steps.append(m(idx[:, t : t + 1], cache=cache)[0].numpy())
    assert cache[0].length == 10 and len(cache) == 2
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=0, atol=logit_rounding_bound(m, 10, dtype))
    with pytest.raises(ValueError, match=r"cached 10 \+ new 1 = 11 tokens is longer than block_size=10"):
        m(idx[:, :1], cache=cache)


def test_cache_must_have_one_entry_per_layer():
    m = GPT(cfg(), rng=0)
    with pytest.raises(ValueError, match="cache has 1 layers, the model 2"):
        m(ids(1, 2), cache=m.new_cache()[:1])


# ----------------------------------------------------------------------- bad inputs
def test_bad_inputs_give_clear_errors():
    m = GPT(cfg(), rng=0)
    with pytest.raises(ValueError, match="sequence of 9 tokens is longer than block_size=8"):
        m(ids(1, 9))
    with pytest.raises(ValueError, match=r"outside \[0, 13\): min 0, max 13"):
        m(np.array([[0, 13]]))
    with pytest.raises(ValueError, match=r"outside \[0, 13\): min -1"):
        m(np.array([[-1, 3]]))
    with pytest.raises(TypeError, match="integer token ids, got dtype float"):
        m(np.array([[1.0, 2.0]]))
    with pytest.raises(TypeError, match="integer"):
        m(npgpt.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"shape \(B, T\), got 1-D"):
        m(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"shape \(B, T\), got 3-D"):
        m(np.zeros((1, 2, 3), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        m(np.zeros((1, 0), dtype=int))
    with pytest.raises(ValueError, match=r"targets have shape \(1, 3\), expected \(1, 2\)"):
        m(ids(1, 2), ids(1, 3))
    with pytest.raises(TypeError, match="targets must hold integer"):
        m(ids(1, 2), np.zeros((1, 2)))


def test_crop_block_size():
    m = GPT(cfg(block_size=8), rng=0)
    idx = ids(1, 4)
    before = m(idx)[0].numpy()
    m.crop_block_size(4)
    assert m.config.block_size == 4 and m.transformer.wpe.weight.shape == (4, 8)
    np.testing.assert_array_equal(m(idx)[0].numpy(), before)
    with pytest.raises(ValueError, match="block_size=4"):
        m(ids(1, 5))
    r = GPT(cfg(pos_encoding="rope"), rng=0)
    before = r(idx)[0].numpy()
    np.testing.assert_array_equal(r.crop_block_size(4)(idx)[0].numpy(), before)


def test_repr_names_the_config():
    r = repr(GPT(cfg(), rng=0))
    assert r.startswith("GPT(\n  vocab_size=13") and "(wte): Embedding(13, 8)" in r and "(h): ModuleList(" in r


# ----------------------------------------------------------------------- against HuggingFace GPT-2
@pytest.mark.torch
def test_matches_huggingface_gpt2():
    torch = require_torch()
    transformers = require("transformers")
    c = cfg(vocab_size=17, block_size=8, n_layer=2, n_head=2, n_embd=8)
    hf_cfg = transformers.GPT2Config(
        vocab_size=17,
        n_positions=8,
        n_embd=8,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(hf_cfg).double().eval()
    ours = GPT(c, rng=0, dtype=F64)
    sd = {}
    for k, v in hf.state_dict().items():
        if k == "lm_head.weight" or k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            continue
        a = v.numpy()
        if k.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            a = a.T  # HF's Conv1D stores (in, out)
        sd[k] = a
    sd = {k: v + 0.1 * np.random.default_rng(len(k)).standard_normal(v.shape) for k, v in sd.items()}
    ours.load_state_dict(sd)
    conv1d = ("c_attn.weight", "c_proj.weight", "c_fc.weight")
    hf.load_state_dict(
        {k: torch.as_tensor(v.T.copy() if k.endswith(conv1d) else v) for k, v in sd.items()}, strict=False
    )
    idx = ids(2, 8, V=17)
    with torch.no_grad():
        ref = hf(torch.as_tensor(idx)).logits.numpy()
    np.testing.assert_allclose(ours(idx)[0].numpy(), ref, atol=1e-12)


# ----------------------------------------------------------------------- on the GPU (skipped without one)
@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
def test_gpu_model_matches_cpu(pos):
    c = cfg(pos_encoding=pos, dropout=0.0)
    cpu, gpu = GPT(c, rng=0, dtype=F64), GPT(c, rng=0, dtype=F64, device="cuda")
    assert gpu.transformer.wte.weight.device == "cuda"
    idx, tgt = ids(2, 6), ids(2, 6, seed=1)
    (lc, losc), (lg, losg) = cpu(idx, tgt), gpu(idx, tgt)
    losc.backward()
    losg.backward()
    np.testing.assert_allclose(lg.numpy(), lc.numpy(), atol=1e-12)
    for (n, pc), pg in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(npgpt.backend.to_device(pg.grad, "cpu"), pc.grad, atol=1e-12, err_msg=n)
    with npgpt.no_grad():
        cache = gpu.new_cache()
        steps = [gpu(idx[:, :3], cache=cache)[0].numpy()]
        steps += [gpu(idx[:, t : t + 1], cache=cache)[0].numpy() for t in range(3, 6)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), lc.numpy(), atol=1e-12)
    cpu.to("cuda")
    np.testing.assert_allclose(cpu(idx)[0].numpy(), lc.numpy(), atol=1e-12)
