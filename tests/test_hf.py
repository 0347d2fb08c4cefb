"""HuggingFace GPT-2 folders: GPT.from_hf / GPT.save_hf against transformers' GPT2LMHeadModel.

A small random GPT2LMHeadModel (fixed torch seed, weights scaled up so the logits are O(1)) is
saved with ``save_pretrained(safe_serialization=True)``; npgpt loads it and must give the same
logits; npgpt's ``save_hf`` folder must load back into transformers with identical logits; state
dicts round-trip exactly; pickle checkpoints are refused. Only the tests marked ``torch`` need
torch and transformers; the file-format tests use safetensors alone. Everything is local (HF_HUB_OFFLINE=1,
``local_files_only=True``): nothing is downloaded.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from conftest import require, require_torch

from npgpt.nn import GPT, GPTConfig
from npgpt.nn import hf as nphf

V, T = 50, 16


def require_transformers():
    """transformers' GPT2Config and GPT2LMHeadModel, or skip (fail with NPGPT_REQUIRE_TORCH=1)."""
    require_torch()
    transformers = require("transformers")
    return transformers.GPT2Config, transformers.GPT2LMHeadModel


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """A saved random GPT2LMHeadModel: (folder, torch model in eval mode)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        GPT2Config, GPT2LMHeadModel = require_transformers()
        import torch

        torch.manual_seed(0)
        cfg = GPT2Config(
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=T,
            vocab_size=V,
            resid_pdrop=0,
            embd_pdrop=0,
            attn_pdrop=0,
            bos_token_id=0,
            eos_token_id=0,
        )
        model = GPT2LMHeadModel(cfg).eval()
        with torch.no_grad():  # move off the init (LayerNorm 1/0, zero biases) so every weight matters
            for p in model.parameters():
                p.add_(0.3 * torch.randn_like(p))
        folder = tmp_path_factory.mktemp("hf_gpt2")
        model.save_pretrained(folder, safe_serialization=True)
    return folder, model


def hf_logits(model, idx):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(idx)).logits.numpy()


def ids(seed=0, B=2):
    return np.random.default_rng(seed).integers(0, V, (B, T))


@pytest.mark.torch
def test_from_hf_logits_match_transformers(hf_folder):
    folder, model = hf_folder
    assert (folder / "model.safetensors").is_file()
    ours = GPT.from_hf(folder)
    assert ours.config.n_embd == 32 and ours.config.block_size == T and ours.config.vocab_size == V
    assert ours.transformer.wte.weight.dtype == np.float32
    idx = ids()
    ref = hf_logits(model, idx)
    logits, _ = ours(idx)
    err = float(np.abs(logits.data - ref).max())
    print(f"from_hf float32 logits vs transformers: max abs error {err:.2e} (max |logit| {np.abs(ref).max():.2f})")
    assert err < 1e-5


@pytest.mark.torch
def test_from_hf_float64(hf_folder):
    folder, model = hf_folder
    import torch

    ours = GPT.from_hf(folder, dtype=np.float64)
    idx = ids(1)
    ref = hf_logits(copy.deepcopy(model).to(torch.float64), idx)
    err = float(np.abs(ours(idx)[0].data - ref).max())
    print(f"from_hf float64 logits vs transformers float64: max abs error {err:.2e}")
    assert err < 1e-10


@pytest.mark.torch
def test_save_hf_loads_in_transformers_with_identical_logits(hf_folder, tmp_path):
    _, GPT2LMHeadModel = require_transformers()
    folder, model = hf_folder
    ours = GPT.from_hf(folder)
    out = ours.save_hf(tmp_path / "out")
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["model_type"] == "gpt2" and cfg["architectures"] == ["GPT2LMHeadModel"]
    assert cfg["activation_function"] == "gelu_new" and cfg["n_inner"] is None and cfg["n_positions"] == T
    back = GPT2LMHeadModel.from_pretrained(out, local_files_only=True).eval()
    idx = ids(2)
    assert np.array_equal(hf_logits(back, idx), hf_logits(model, idx))


def test_state_dict_round_trip_npgpt_hf_npgpt(tmp_path):
    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=2, n_head=4, n_embd=32)
    model = GPT(cfg, rng=3)
    model.save_hf(tmp_path)
    again = GPT.from_hf(tmp_path)
    assert again.config.to_dict() == cfg.to_dict()
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    # the file really is in HF's Conv1D layout: (in, out)
    from safetensors.numpy import load_file

    raw = load_file(tmp_path / "model.safetensors")
    assert raw["transformer.h.0.mlp.c_fc.weight"].shape == (32, 128)
    assert np.array_equal(raw["transformer.h.0.mlp.c_fc.weight"], a["transformer.h.0.mlp.c_fc.weight"].T)
    assert "lm_head.weight" not in raw


def test_hub_style_keys_buffers_and_tied_lm_head_are_accepted(tmp_path):
    """The original hub files: no ``transformer.`` prefix, attn.bias mask buffers, maybe lm_head."""
    from safetensors.numpy import save_file

    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8)
    model = GPT(cfg, rng=4)
    state = {k.removeprefix("transformer."): v for k, v in nphf.npgpt_to_hf_state(model).items()}
    state["h.0.attn.bias"] = np.tril(np.ones((T, T), np.float32))[None, None]
    state["h.0.attn.masked_bias"] = np.array(-1e4, np.float32)
    state["lm_head.weight"] = state["wte.weight"].copy()
    save_file(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(nphf.config_to_hf(cfg)))
    again = GPT.from_hf(tmp_path)
    for k, v in model.state_dict().items():
        assert np.array_equal(v, again.state_dict()[k]), k
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0  # an untied head cannot be represented
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="lm_head.weight differs"):
        GPT.from_hf(tmp_path)


def test_pickle_weights_are_refused(tmp_path):
    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8)
    (tmp_path / "config.json").write_text(json.dumps(nphf.config_to_hf(cfg)))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not even read")
    with pytest.raises(ValueError, match="never loads pickle-based weights") as e:
        GPT.from_hf(tmp_path)
    assert "safe_serialization=True" in str(e.value) and "pytorch_model.bin" in str(e.value)


def test_missing_folder_config_and_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        GPT.from_hf(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        GPT.from_hf(tmp_path)
    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8)
    (tmp_path / "config.json").write_text(json.dumps(nphf.config_to_hf(cfg)))
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        GPT.from_hf(tmp_path)
    with pytest.raises(NotADirectoryError):
        GPT.from_hf(tmp_path / "config.json")


def test_missing_unexpected_and_misshaped_keys(tmp_path):
    from safetensors.numpy import save_file

    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8)
    (tmp_path / "config.json").write_text(json.dumps(nphf.config_to_hf(cfg)))
    state = nphf.npgpt_to_hf_state(GPT(cfg, rng=5))
    state.pop("transformer.ln_f.bias")
    state["transformer.h.0.attn.c_attn.weight"] = state["transformer.h.0.attn.c_attn.weight"].T.copy()
    state["transformer.h.1.ln_1.weight"] = np.ones(8, np.float32)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(ValueError) as e:
        GPT.from_hf(tmp_path)
    msg = str(e.value)
    assert "missing keys (1): transformer.ln_f.bias" in msg
    assert "unexpected keys (1): transformer.h.1.ln_1.weight" in msg
    assert "transformer.h.0.attn.c_attn.weight: file (24, 8), expected Conv1D (in, out) (8, 24)" in msg


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(activation_function="relu"), "activation_function 'relu'"),
        (dict(n_inner=64), "n_inner=64"),
        (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx"),
        (dict(model_type="llama"), "model_type 'llama'"),
    ],
)
def test_unsupported_configs_are_refused(change, match):
    cfg = nphf.config_to_hf(GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(ValueError, match=match):
        nphf.config_from_hf({**cfg, **change})
    assert nphf.config_from_hf({**cfg, "activation_function": "gelu_pytorch_tanh"}).n_embd == 8


def test_save_hf_refuses_non_gpt2_models(tmp_path):
    for kw in (dict(pos_encoding="rope"), dict(bias=False)):
        model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=1, n_head=2, n_embd=8, **kw), rng=0)
        with pytest.raises(ValueError, match="save_hf"):
            model.save_hf(tmp_path)


def test_sharded_safetensors_with_index(tmp_path):
    """Large checkpoints are split into shards listed in model.safetensors.index.json."""
    from safetensors.numpy import save_file

    cfg = GPTConfig(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=8)
    model = GPT(cfg, rng=6)
    state = nphf.npgpt_to_hf_state(model)
    names = list(state)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, tmp_path / shard)
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps(nphf.config_to_hf(cfg)))
    again = GPT.from_hf(tmp_path)
    for k, v in model.state_dict().items():
        assert np.array_equal(v, again.state_dict()[k]), k
