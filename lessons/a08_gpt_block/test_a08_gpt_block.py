"""Grader of assignment 8: 8.1 the block's forward, 8.2 the parameter count.

    python -m lessons.grade --assignment a08
    pytest lessons/a08_gpt_block --task 8.2

The block is compared with the grader's own NumPy forward of GPT-2's pre-LN block, using the
block's own weights in float64; the count with GPT-2 small's published 124,439,808 and with the
parameters the library actually allocates.
"""

import math

import numpy as np
import pytest

import npgpt
from lessons.grading import assert_close
from npgpt.nn import GPT, GPTConfig
from npgpt.nn.block import Block
from npgpt.nn.config import parameter_count


# ----------------------------------------------------------------------------- 8.1 the block
def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def linear(x, lin):
    return x @ lin.weight.numpy().T + lin.bias.numpy()


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def attention(x, attn, H):
    B, T, C = x.shape
    q, k, v = np.split(linear(x, attn.c_attn), 3, axis=-1)
    q, k, v = (a.reshape(B, T, H, C // H).transpose(0, 2, 1, 3) for a in (q, k, v))
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(C // H)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return linear(y, attn.c_proj)


def block_reference(x, blk, H):
    """GPT-2's pre-LN block, written out in NumPy (the grader's copy)."""
    ln = lambda m, x: layer_norm(x, m.weight.numpy(), m.bias.numpy())  # noqa: E731
    x = x + attention(ln(blk.ln_1, x), blk.attn, H)
    return x + linear(gelu(linear(ln(blk.ln_2, x), blk.mlp.c_fc)), blk.mlp.c_proj)


def tiny_block(seed=0):
    cfg = GPTConfig(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=8)
    blk = Block(cfg, dtype=np.float64, rng=seed).eval()
    for p in blk.parameters():  # LayerNorm gains and biases away from 1 and 0, larger weights
        p.data[...] = np.random.default_rng(seed + p.data.size).standard_normal(p.data.shape) * 0.5
    return blk


@pytest.mark.task("8.1", points=4)
@pytest.mark.parametrize("shape", [(2, 5, 8), (1, 1, 8)], ids=str)
def test_block_forward_matches_pre_ln_gpt2(shape):
    blk = tiny_block()
    x = np.random.default_rng(1).standard_normal(shape) * 2 + 1
    with npgpt.no_grad():
        y = blk(npgpt.tensor(x)).numpy()
    assert_close(y, block_reference(x, blk, 2), f"Block(x) for x of shape {shape}", rtol=1e-9, atol=1e-10)


@pytest.mark.task("8.1", points=1)
def test_block_passes_gradients_to_every_parameter():
    blk = tiny_block(seed=2)
    x = npgpt.tensor(np.random.default_rng(3).standard_normal((1, 4, 8)), requires_grad=True)
    blk(x).sum().backward()
    missing = [n for n, p in blk.named_parameters() if p.grad is None or not np.any(p.grad)]
    assert not missing, f"parameters that got no gradient through Block.forward: {missing}"
    assert x.grad is not None and np.all(np.isfinite(x.grad)), "x got no (finite) gradient"


# ----------------------------------------------------------------------------- 8.2 parameter count
@pytest.mark.task("8.2", points=2)
def test_gpt2_small_has_124_439_808_parameters():
    n = parameter_count(GPTConfig.preset("gpt2"))
    assert n == 124_439_808, f"parameter_count(GPT-2 small) = {n:,}, the published model has 124,439,808"


@pytest.mark.task("8.2", points=3)
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(bias=False),
        dict(pos_encoding="rope"),
        dict(pos_encoding="sinusoidal", bias=False, n_layer=3),
    ],
    ids=["learned", "no-bias", "rope", "sinusoidal-no-bias-3-layers"],
)
def test_count_equals_the_allocated_parameters(kw):
    cfg = GPTConfig(**{**dict(vocab_size=13, block_size=9, n_layer=2, n_head=2, n_embd=8), **kw})
    model = GPT(cfg, rng=0)
    allocated = sum(p.data.size for p in model.parameters())
    assert parameter_count(cfg) == allocated, (
        f"parameter_count({kw}) = {parameter_count(cfg)}, GPT allocates {allocated}"
    )


@pytest.mark.task("8.2", points=1)
def test_gpt1_has_no_final_layernorm():
    cfg = GPTConfig(vocab_size=13, block_size=9, n_layer=2, n_head=2, n_embd=8)
    assert parameter_count(cfg, arch="gpt1") == parameter_count(cfg) - 2 * 8, "GPT-1: the final LayerNorm less"
    assert isinstance(parameter_count(cfg), int), "the count must be an int"
