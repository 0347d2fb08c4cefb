"""Generation (``npgpt.generation``, ``GPT.generate`` / ``generate_stream``): the KV cache is exact.

With the cache, the logits chosen from at every step equal those of a full forward pass over the
same (cropped) context, also past ``block_size`` where each step refills the cache from the cropped
window (1e-5 in float32, 1e-12 in float64). Greedy decoding matches transformers' ``generate`` on a
random GPT-2 loaded with ``GPT.from_hf``. Models are tiny and their weights are scaled up from the
N(0, 0.02) init so the logits are O(1) and greedy choices are not near-ties.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require, require_torch

import npgpt.generation as gen_mod
from npgpt.autograd import no_grad
from npgpt.nn import GPT, GPTConfig

V, BLOCK = 13, 16
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def make_model(dtype=np.float64, pos_encoding="learned", attention="fused", dropout=0.0, seed=0):
    cfg = GPTConfig(
        vocab_size=V,
        block_size=BLOCK,
        n_layer=2,
        n_head=2,
        n_embd=16,
        pos_encoding=pos_encoding,
        attention=attention,
        dropout=dropout,
    )
    model = GPT(cfg, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    for p in model.parameters():
        p.data += rng.normal(0.0, 0.3, p.data.shape).astype(dtype)
    return model.eval()


def prompt(B=1, T=5, seed=1):
    return np.random.default_rng(seed).integers(0, V, (B, T))


def full_last_logits(model, ids):
    """Logits for the next token after ``ids`` by one full forward over the cropped window."""
    with no_grad():
        logits, _ = model(ids[:, -BLOCK:])
    return logits.data[:, -1, :]


@pytest.fixture
def record(monkeypatch):
    """Record the logits each generation step samples from and the (T, cached length) of each forward."""
    seen = {"logits": [], "forwards": []}
    real_sample = gen_mod.sample_next
    real_forward = GPT.forward

    def sample_next(logits, *args, **kwargs):
        seen["logits"].append(logits.copy())
        return real_sample(logits, *args, **kwargs)

    def forward(self, idx, targets=None, cache=None, last_only=False):
        seen["forwards"].append((idx.shape[1], None if cache is None else cache[0].length, self.training))
        return real_forward(self, idx, targets, cache, last_only)

    monkeypatch.setattr(gen_mod, "sample_next", sample_next)
    monkeypatch.setattr(GPT, "forward", forward)
    return seen


# ----------------------------------------------------------------------------- the cache is exact
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    "pos_encoding, attention",
    [("learned", "fused"), ("sinusoidal", "fused"), ("rope", "fused"), ("learned", "composed")],
)
def test_cached_logits_equal_full_forward_at_every_step(record, dtype, pos_encoding, attention):
    model = make_model(dtype, pos_encoding, attention)
    T0, n = 5, 30  # 5 + 30 > 16: the last 19 steps run past the window
    out = model.generate(prompt(2, T0), n, temperature=0, use_cache=True)
    assert out.shape == (2, T0 + n)

    # the cache was used while it fits, then each step refilled it from the cropped window
    sizes = [(t, cached) for t, cached, _ in record["forwards"]]
    inside = BLOCK - T0  # single-token steps until the cache holds block_size positions
    assert sizes == [(T0, 0)] + [(1, T0 + i) for i in range(inside)] + [(BLOCK, 0)] * (n - 1 - inside)

    assert len(record["logits"]) == n
    for i, got in enumerate(record["logits"]):
        want = full_last_logits(model, out[:, : T0 + i])
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"step {i}")


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal", "rope"])
def test_greedy_tokens_with_and_without_cache(pos_encoding):
    model = make_model(np.float32, pos_encoding)
    for T0 in (1, 5, 16, 20):  # a prompt longer than the window is cropped
        ids = prompt(2, T0, seed=T0)
        a = model.generate(ids, 25, temperature=0, use_cache=True)
        b = model.generate(ids, 25, temperature=0, use_cache=False)
        assert np.array_equal(a, b), f"prompt length {T0}"
        assert np.array_equal(a[:, :T0], ids)


def test_sampled_tokens_with_and_without_cache():
    model = make_model(np.float64)
    a = model.generate(prompt(), 40, temperature=1.0, top_k=5, rng=3, use_cache=True)
    b = model.generate(prompt(), 40, temperature=1.0, top_k=5, rng=3, use_cache=False)
    assert np.array_equal(a, b)


def test_greedy_is_argmax_of_the_full_forward():
    model = make_model(np.float64)
    out = model.generate(prompt(), 20, temperature=0)
    for i in range(20):
        ctx = out[:, : 5 + i]
        assert out[0, 5 + i] == full_last_logits(model, ctx)[0].argmax()


# ----------------------------------------------------------------------------- against transformers
def require_transformers():
    """transformers' GPT2Config and GPT2LMHeadModel, or skip (fail with NPGPT_REQUIRE_TORCH=1)."""
    require_torch()
    transformers = require("transformers")
    return transformers.GPT2Config, transformers.GPT2LMHeadModel


@pytest.mark.torch
def test_greedy_matches_transformers_generate(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    GPT2Config, GPT2LMHeadModel = require_transformers()
    import torch

    torch.manual_seed(0)
    cfg = GPT2Config(
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=BLOCK,
        vocab_size=50,
        resid_pdrop=0,
        embd_pdrop=0,
        attn_pdrop=0,
        bos_token_id=0,
        eos_token_id=0,
    )
    hf = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # move off the init so every weight matters and logits are O(1)
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    hf.save_pretrained(tmp_path, safe_serialization=True)
    hf = hf.double()
    hf.generation_config.eos_token_id = None  # never stop early: compare all max_new_tokens

    ours = GPT.from_hf(tmp_path, dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, 50, (2, 5))
    n = BLOCK - 5  # inside the window: transformers has no positions beyond n_positions
    with torch.no_grad():
        want = hf.generate(
            torch.from_numpy(ids),
            attention_mask=torch.ones(2, 5, dtype=torch.long),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=0,
        ).numpy()
    assert want.shape == (2, 5 + n)
    assert np.array_equal(ours.generate(ids, n, temperature=0), want)
    assert np.array_equal(ours.generate(ids, n, temperature=0, use_cache=False), want)


# ----------------------------------------------------------------------------- batches, streams, modes
def test_batch_of_two_prompts():
    model = make_model(np.float32)
    ids = prompt(2, 6)
    out = model.generate(ids, 12, temperature=0)
    assert out.shape == (2, 18) and out.dtype.kind == "i"
    assert np.array_equal(out[:, :6], ids)
    for b in range(2):  # each row as if generated alone
        assert np.array_equal(out[b], model.generate(ids[b], 12, temperature=0)[0])
    sampled = model.generate(ids, 12, temperature=1.0, rng=0)
    assert sampled.shape == (2, 18) and sampled.min() >= 0 and sampled.max() < V


def test_prompt_forms():
    model = make_model(np.float32)
    want = model.generate(np.array([[1, 2, 3]]), 4, temperature=0)
    assert np.array_equal(model.generate([1, 2, 3], 4, temperature=0), want)  # list, 1-D
    assert np.array_equal(model.generate(np.array([1, 2, 3]), 4, temperature=0), want)
    import npgpt

    assert np.array_equal(model.generate(npgpt.tensor(np.array([[1, 2, 3]])), 4, temperature=0), want)
    assert np.array_equal(model.generate([1, 2, 3], 0), np.array([[1, 2, 3]]))


def test_generate_stream_yields_one_array_per_step():
    model = make_model(np.float32)
    ids = prompt(2, 4)
    steps = list(model.generate_stream(ids, 7, temperature=0))
    assert len(steps) == 7
    assert all(s.shape == (2,) and s.dtype.kind == "i" for s in steps)
    full = model.generate(ids, 7, temperature=0)
    assert np.array_equal(np.stack(steps, axis=1), full[:, 4:])
    assert list(model.generate_stream(ids, 0)) == []


@pytest.mark.parametrize("training", [True, False])
def test_model_mode_is_restored(record, training):
    model = make_model(np.float32, dropout=0.5)
    model.train(training)
    a = model.generate(prompt(), 20, temperature=0)
    assert model.training is training and all(m.training is training for m in model.modules())
    assert all(not was_training for _, _, was_training in record["forwards"])  # generated in eval mode
    assert np.array_equal(a, model.generate(prompt(), 20, temperature=0))  # so no dropout noise

    stream = model.generate_stream(prompt(), 10)
    next(stream)
    assert not model.training
    stream.close()  # a caller that stops early
    assert model.training is training


def test_seeded_sampling_is_reproducible():
    model = make_model(np.float32)
    a = model.generate(prompt(), 30, temperature=1.0, rng=42)
    assert np.array_equal(a, model.generate(prompt(), 30, temperature=1.0, rng=42))
    assert np.array_equal(a, model.generate(prompt(), 30, temperature=1.0, rng=np.random.default_rng(42)))
    assert not np.array_equal(a, model.generate(prompt(), 30, temperature=1.0, rng=43))
    streamed = np.stack(list(model.generate_stream(prompt(), 30, temperature=1.0, rng=42)), axis=1)
    assert np.array_equal(streamed, a[:, 5:])


def test_top_k_1_and_tiny_top_p_are_greedy():
    model = make_model(np.float32)
    greedy = model.generate(prompt(), 25, temperature=0)
    assert np.array_equal(model.generate(prompt(), 25, temperature=1.5, top_k=1, rng=0), greedy)
    assert np.array_equal(model.generate(prompt(), 25, temperature=1.5, top_p=1e-9, rng=0), greedy)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_new_tokens": -1}, "max_new_tokens must be an integer >= 0"),
        ({"max_new_tokens": 2.5}, "max_new_tokens must be an integer >= 0"),
        ({"temperature": -1.0}, "temperature must be a number >= 0"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
    ],
)
def test_bad_arguments_raise_at_the_call(kwargs, match):
    """Also for generate_stream: the error comes when it is called, not at the first step."""
    model = make_model(np.float32)
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        model.generate_stream(prompt(), **args)
    with pytest.raises(ValueError, match=match):
        model.generate(prompt(), **args)


def test_empty_prompt_and_bad_ids():
    model = make_model(np.float32)
    with pytest.raises(ValueError, match="prompt is empty"):
        model.generate(np.zeros((1, 0), dtype=np.int64), 3)
    with pytest.raises(ValueError, match=r"ids outside \[0, 13\)"):
        model.generate(np.array([[1, 99]]), 3)
