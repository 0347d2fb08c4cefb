"""npgpt's GPT against the PyTorch reference (npgpt.reference.torch_gpt) with identical weights.

Logits, loss and the gradient of EVERY parameter must agree: to 1e-10 (absolute) in float64 and to
1e-4 relative (max |difference| / max |torch value|, per tensor) in float32, for both of npgpt's
attention paths. Weights are perturbed away from the initialisation (LayerNorm gains != 1,
biases != 0) so that every parameter matters. Dropout is 0.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import require_torch

from npgpt.nn import GPT, GPTConfig

pytestmark = pytest.mark.torch

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def make_pair(attention="fused", dtype=np.float64, pos_encoding="learned", bias=True, seed=0, norm="pre"):
    """An npgpt GPT with perturbed weights and the TorchGPT holding the same arrays."""
    torch = require_torch()
    from npgpt.reference.torch_gpt import TorchGPT

    cfg = GPTConfig(
        vocab_size=11,
        block_size=8,
        n_layer=2,
        n_head=2,
        n_embd=16,
        attention=attention,
        pos_encoding=pos_encoding,
        bias=bias,
        norm=norm,
    )
    model = GPT(cfg, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    for _, p in model.named_parameters():
        p.data[...] += (0.2 * rng.standard_normal(p.shape)).astype(dtype)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    return model, TorchGPT.from_npgpt_state(model.state_dict(), cfg, dtype=tdtype)


def batch(seed=2, B=2, T=8, V=11):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, V, (B, T))
    targets = rng.integers(0, V, (B, T))
    targets[0, 3] = -100  # ignore_index: this position does not count in the loss
    return idx, targets


def rel_err(a, b):
    """max |a - b| / max |b| (absolute when b is all zero)."""
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30))


def run_both(model, tmodel, idx, targets):
    torch = require_torch()
    logits, loss = model(idx, targets)
    loss.backward()
    tlogits, tloss = tmodel(torch.from_numpy(idx), torch.from_numpy(targets))
    tloss.backward()
    return logits.data, loss.item(), tlogits.detach().numpy(), tloss.item()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("attention", ["fused", "composed"])
def test_logits_loss_and_every_gradient_match_torch(attention, dtype):
    model, tmodel = make_pair(attention, dtype)
    idx, targets = batch()
    logits, loss, tlogits, tloss = run_both(model, tmodel, idx, targets)
    tol = TOL[dtype]
    errs = {
        "logits": rel_err(logits, tlogits) if dtype == np.float32 else np.abs(logits - tlogits).max(),
        "loss": abs(loss - tloss) / (abs(tloss) if dtype == np.float32 else 1.0),
    }
    tparams = dict(tmodel.named_parameters())
    names = [n for n, _ in model.named_parameters()]
    assert sorted(names) == sorted(tparams)  # same parameters, same names
    for name, p in model.named_parameters():
        g, tg = p.grad, tparams[name].grad.numpy()
        assert g is not None and g.shape == tg.shape, name
        errs[name] = rel_err(g, tg) if dtype == np.float32 else float(np.abs(g - tg).max())
    worst = max(errs, key=errs.get)
    print(f"{attention} {np.dtype(dtype)}: max error {errs[worst]:.2e} ({worst}); logits {errs['logits']:.2e}")
    bad = {k: v for k, v in errs.items() if not v <= tol}
    assert not bad, f"{attention} {np.dtype(dtype)}: errors above {tol}: {bad}"


@pytest.mark.parametrize("variant", [dict(pos_encoding="sinusoidal"), dict(bias=False)], ids=["sinusoidal", "no-bias"])
def test_variants_match_torch_float64(variant):
    model, tmodel = make_pair("fused", np.float64, **variant)
    idx, targets = batch()
    logits, loss, tlogits, tloss = run_both(model, tmodel, idx, targets)
    assert np.abs(logits - tlogits).max() < 1e-10 and abs(loss - tloss) < 1e-10
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        assert np.abs(p.grad - tparams[name].grad.numpy()).max() < 1e-10, name


@pytest.mark.parametrize("T, C", [(8, 16), (64, 7)])
def test_sinusoidal_tables_agree(T, C):
    # the reference builds its table from the paper's formula, in torch: it checks npgpt's table
    require_torch()
    from npgpt.nn import sinusoidal_table
    from npgpt.reference.torch_gpt import sinusoidal_positions

    np.testing.assert_allclose(sinusoidal_table(T, C), sinusoidal_positions(T, C).numpy(), rtol=0, atol=1e-13)


def test_shorter_sequence_and_eval_mode():
    torch = require_torch()
    model, tmodel = make_pair("composed", np.float64)
    model.eval()
    tmodel.eval()
    idx, _ = batch(T=5)
    logits, _ = model(idx)
    with torch.no_grad():
        tlogits, tloss = tmodel(torch.from_numpy(idx))
    assert tloss is None
    assert np.abs(logits.data - tlogits.numpy()).max() < 1e-10


def test_load_npgpt_weights_checks_names_and_shapes():
    torch = require_torch()
    from npgpt.reference.torch_gpt import TorchGPT, load_npgpt_weights

    model, tmodel = make_pair()
    sd = dict(model.state_dict())
    with pytest.raises(ValueError, match="missing.*transformer.ln_f.bias"):
        load_npgpt_weights(tmodel, {k: v for k, v in sd.items() if k != "transformer.ln_f.bias"})
    with pytest.raises(ValueError, match="unexpected.*lm_head.weight"):
        load_npgpt_weights(tmodel, {**sd, "lm_head.weight": sd["transformer.wte.weight"]})
    with pytest.raises(ValueError, match=r"transformer.h.0.attn.c_attn.weight has shape \(16, 48\)"):
        load_npgpt_weights(
            tmodel, {**sd, "transformer.h.0.attn.c_attn.weight": sd["transformer.h.0.attn.c_attn.weight"].T}
        )
    with pytest.raises(NotImplementedError, match="rope"):
        TorchGPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4, pos_encoding="rope"))
    assert tmodel.transformer.wte.weight.dtype == torch.float64


def test_reference_package_imports_without_torch():
    code = "import sys, npgpt, npgpt.nn, npgpt.reference; assert 'torch' not in sys.modules, 'torch was imported'"
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("norm", ["post", "none"])
def test_post_ln_and_no_ln_match_torch(norm):
    model, tmodel = make_pair(norm=norm)
    idx, targets = batch()
    logits, loss, tlogits, tloss = run_both(model, tmodel, idx, targets)
    assert np.abs(logits - tlogits).max() < TOL[np.float64] and abs(loss - tloss) < TOL[np.float64]
    tgrads = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        err = np.abs(p.grad - tgrads[name].grad.numpy()).max()
        assert err < TOL[np.float64], f"{norm}: d loss / d {name} differs from torch by {err:.2e}"
