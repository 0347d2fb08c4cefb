"""Cross-checks against PyTorch: every case that names a ``torch_fn`` must match torch in float64.

Forward values and the gradients of every input, for the same random upstream gradient, agree to
1e-10 (absolute and relative). Cases without a torch equivalent (dropout: the random masks differ;
attention with a KV-cache offset: checked below with an explicit mask) are listed on purpose.
"""

import numpy as np
import pytest
from conftest import make_inputs, op_cases

import npgpt
import npgpt.functional as F
from npgpt.gradcheck_cases import all_functions, cases_for

pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-10, atol=1e-10)
# ops none of whose cases has a torch reference, and why
NO_TORCH = {
    "Dropout": "random masks differ between libraries",
    "ToDtype": "no cases (dedicated tests)",
    "ToDevice": "no cases (dedicated tests)",
}

TORCH_CASES = op_cases(lambda op, case: case.torch_fn is not None)


def compare_with_torch(torch, fn, torch_fn, arrays, seed=1):
    """Run ``fn`` (npgpt) and ``torch_fn`` (torch) on the same float64 inputs and upstream gradient."""
    ours = [npgpt.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ours)
    u = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(u)

    theirs = [torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True) for a in arrays]
    tout = torch_fn(torch, *theirs)
    tout.backward(torch.tensor(u, dtype=torch.float64))

    assert tuple(tout.shape) == out.shape
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **TOL, err_msg="forward")
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert b.grad is not None, f"torch gives input {k} no gradient"
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"gradient of input {k}")
    return max(float(np.max(np.abs(a.grad - b.grad.numpy()), initial=0)) for a, b in zip(ours, theirs))


@pytest.mark.parametrize("op, case", TORCH_CASES)
def test_matches_torch(torch, op, case):
    compare_with_torch(torch, case.fn, case.torch_fn, make_inputs(case))


def test_cross_check_coverage():
    """Every case with a torch_fn is parametrised above, and only the listed ops lack one."""
    with_torch, without = set(), set()
    n_cases = 0
    for op in all_functions():
        cases = cases_for(op)
        n = sum(c.torch_fn is not None for c in cases)
        n_cases += n
        (with_torch if n else without).add(op.__name__)
    assert n_cases == len(TORCH_CASES)
    assert {p.values[0].__name__ for p in TORCH_CASES} == with_torch
    assert without == set(NO_TORCH), f"ops without a torch cross-check: {sorted(without - set(NO_TORCH))}"
    assert len(with_torch) >= 30
    print(f"{len(with_torch)} ops cross-checked against torch in {n_cases} cases; not: {sorted(without)}")


# ----------------------------------------------------------------------- beyond the registered cases
def test_attention_kv_cache_offset_matches_torch(torch):
    """Tq < Tk: query i sits at absolute position Tk - Tq + i (torch's is_causal aligns top-left,
    so the reference uses an explicit boolean mask)."""
    Tq, Tk = 2, 5
    mask = np.arange(Tk)[None, :] <= np.arange(Tq)[:, None] + (Tk - Tq)  # True = may attend
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((1, 2, Tq, 3)),
        rng.standard_normal((1, 2, Tk, 3)),
        rng.standard_normal((1, 2, Tk, 3)),
    ]
    compare_with_torch(
        torch,
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=t.as_tensor(mask)),
        arrays,
    )


def test_composite_block_matches_torch(torch):
    """A pre-LN attention block with an MLP and a cross-entropy head, built from npgpt ops."""
    rng = np.random.default_rng(0)
    B, T, C, H, V = 2, 4, 8, 2, 7
    x = rng.standard_normal((B, T, C))
    targets = rng.integers(0, V, (B, T))
    shapes = [(C,), (C,), (3 * C, C), (3 * C,), (C, C), (4 * C, C), (4 * C,), (C, 4 * C), (V, C)]
    params = [rng.standard_normal(s) * 0.3 for s in shapes]

    def block(lib, x, ln_w, ln_b, w_qkv, b_qkv, w_o, w1, b1, w2, w_head):
        if lib == "torch":
            import torch as t

            lin, ln, gelu, sdpa, ce = (
                t.nn.functional.linear,
                lambda h: t.nn.functional.layer_norm(h, (C,), ln_w, ln_b),
                lambda h: t.nn.functional.gelu(h, approximate="tanh"),
                lambda q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
                lambda lg: t.nn.functional.cross_entropy(lg.reshape(-1, V), t.as_tensor(targets).reshape(-1)),
            )
        else:
            lin, ln, gelu, sdpa, ce = (
                F.linear,
                lambda h: F.layer_norm(h, ln_w, ln_b),
                lambda h: h.gelu(),
                F.scaled_dot_product_attention,
                lambda lg: F.cross_entropy(lg, targets),
            )
        h = ln(x)
        qkv = lin(h, w_qkv, b_qkv).reshape(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)
        a = sdpa(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(B, T, C)
        x = x + lin(a, w_o)
        x = x + lin(gelu(lin(ln(x), w1, b1)), w2)
        return ce(lin(x, w_head))

    compare_with_torch(torch, lambda *ts: block("npgpt", *ts), lambda t, *ts: block("torch", *ts), [x] + params)
