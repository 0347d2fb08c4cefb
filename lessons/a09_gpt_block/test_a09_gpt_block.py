"""Grader of assignment 9: 9.1 the block's forward, 9.2 the parameter count.

    python -m lessons.grade --assignment a09
    pytest lessons/a09_gpt_block --task 9.2

Task 9.1 is the block's wiring, so it is graded on the wiring alone: the block's four sublayers
are replaced by the grader's stand-ins (each a different map written here in NumPy, with its own
backward), which record what they read, and the output is compared with what the instructor's
arrangement gives with the same stand-ins (recorded in ``expected.npz`` for a handout:
``lessons.expected``). A mistake in an earlier assignment (LayerNorm, attention)
or the KV cache of assignment 11 cannot cost 9.1 its points. The count is compared with GPT-2
small's published 124,439,808 and with the parameters the library actually allocates.
"""

import numpy as np
import pytest

import npgpt
from lessons.expected import Expected
from lessons.grading import assert_close
from npgpt.autograd import Function
from npgpt.nn import GPT, GPTConfig
from npgpt.nn.block import Block
from npgpt.nn.config import parameter_count
from npgpt.nn.module import Module

expected = Expected(__file__)


# ----------------------------------------------------------------------------- 9.1 the block
class Sublayer(Function):
    """y = tanh(x @ w): a stand-in sublayer's op, forward and backward written here."""

    @staticmethod
    def forward(ctx, x, w):
        y = np.tanh(x @ w)
        ctx.save_for_backward(w, y)
        return y

    @staticmethod
    def backward(ctx, g):
        w, y = ctx.saved_tensors
        return ((g * (1 - y * y)) @ w.T,)


class StandIn(Module):
    """Takes the place of ln_1, ln_2 or mlp: its own map, and a record of the inputs it read."""

    def __init__(self, name, C, seed):
        super().__init__()
        self.name, self.w, self.read = name, np.random.default_rng(seed).standard_normal((C, C)), []

    def forward(self, x):
        self.read.append(np.array(x.numpy()))
        return Sublayer.apply(x, w=self.w)


class AttnStandIn(StandIn):
    """Takes the place of attn, which also receives the KV cache."""

    def forward(self, x, cache=None):
        self.cache = cache
        return super().forward(x)


C = 6


def stand_in_block():
    blk = Block(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=C), dtype=np.float64, rng=0)
    blk.ln_1, blk.attn = StandIn("ln_1", C, 1), AttnStandIn("attn", C, 2)
    blk.ln_2, blk.mlp = StandIn("ln_2", C, 3), StandIn("mlp", C, 4)
    return blk


def stand_in_weights():
    return {name: StandIn(name, C, seed).w for name, seed in (("ln_1", 1), ("attn", 2), ("ln_2", 3), ("mlp", 4))}


def what_was_read(blk):
    """One line per stand-in: which inputs it read, for the failure messages."""
    return "; ".join(f"{m.name} read {len(m.read)} time(s)" for m in (blk.ln_1, blk.attn, blk.ln_2, blk.mlp))


@pytest.mark.task("9.1", points=3)
@pytest.mark.parametrize("shape", [(2, 5, C), (1, 1, C)], ids=str)
def test_block_forward_wires_the_sublayers(shape):
    blk = stand_in_block()
    x = np.random.default_rng(5).standard_normal(shape)
    with npgpt.no_grad():
        y = blk(npgpt.tensor(x)).numpy()
    for m in (blk.ln_1, blk.attn, blk.ln_2, blk.mlp):
        assert len(m.read) == 1, f"each sublayer must be called once per forward: {what_was_read(blk)}"
    assert_close(blk.ln_1.read[0], x, "what ln_1 reads (the block's input x)", rtol=1e-12, atol=1e-12)
    assert_close(
        y,
        expected("pre_ln_block_reference", x, stand_in_weights()),
        f"Block(x) for x of shape {shape}",
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.task("9.1", points=1)
def test_block_passes_the_cache_to_attn():
    blk, cache = stand_in_block(), object()
    with npgpt.no_grad():
        blk(npgpt.tensor(np.ones((1, 2, C))), cache=cache)
    assert getattr(blk.attn, "cache", None) is cache, "Block.forward(x, cache) must hand the cache to self.attn"


@pytest.mark.task("9.1", points=1)
def test_block_gradient_reaches_the_input():
    # built from Tensor ops, the block is differentiable: dL/dx through both residual paths
    blk = stand_in_block()
    rng = np.random.default_rng(6)
    x, g = rng.standard_normal((1, 4, C)), rng.standard_normal((1, 4, C))
    xt = npgpt.tensor(x, requires_grad=True)
    blk(xt).backward(g)
    assert xt.grad is not None, "x got no gradient through Block.forward (the graph is broken)"
    want = expected("pre_ln_block_vjp_reference", x, g, stand_in_weights())
    assert_close(xt.grad, want, "dL/dx through the block", rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- 9.2 parameter count
@pytest.mark.task("9.2", points=2)
def test_gpt2_small_has_124_439_808_parameters():
    n = parameter_count(GPTConfig.preset("gpt2"))
    assert n == 124_439_808, f"parameter_count(GPT-2 small) = {n:,}, the published model has 124,439,808"


@pytest.mark.task("9.2", points=3)
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


@pytest.mark.task("9.2", points=1)
def test_gpt1_has_no_final_layernorm():
    cfg = GPTConfig(vocab_size=13, block_size=9, n_layer=2, n_head=2, n_embd=8)
    assert parameter_count(cfg, arch="gpt1") == parameter_count(cfg) - 2 * 8, "GPT-1: the final LayerNorm less"
    assert isinstance(parameter_count(cfg), int), "the count must be an int"
