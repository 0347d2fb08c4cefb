"""Functional forms of every op (``import npgpt.functional as F``), as in ``torch.nn.functional``.

Each function is a thin call of one ``Function`` from ``npgpt.ops`` (or of the ``Tensor`` method
that calls it); go there for the forward, the backward and the math. Python numbers are accepted
where a tensor is expected and become constants of the other input's dtype and device.
"""

from __future__ import annotations

from .backend import get_array_module
from .ops.attention import QKVAttention, ScaledDotProductAttention
from .ops.chat_losses import DPOLoss, LogSigmoid, PPOClippedLoss, TokenLogprobs
from .ops.dropout import Dropout
from .ops.elementwise import GELU, Add, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub, Tanh
from .ops.embedding import Embedding
from .ops.layernorm import LayerNorm
from .ops.matmul import Linear, MatMul
from .ops.reduce import Max, Mean, Sum, Var
from .ops.select import Where
from .ops.shape import Concat, Stack
from .ops.softmax import CrossEntropy, LogSoftmax, Softmax
from .tensor import Tensor, _lift, array_of


def _pair(a, b):
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    return _lift(a, b), b


# ----------------------------------------------------------------------- arithmetic
def add(a, b):
    return Add.apply(*_pair(a, b))


def sub(a, b):
    return Sub.apply(*_pair(a, b))


def mul(a, b):
    return Mul.apply(*_pair(a, b))


def div(a, b):
    return Div.apply(*_pair(a, b))


def pow(a, b):  # noqa: A001  (mirrors torch.pow)
    """a ** b; a Python-number exponent is a constant, a tensor exponent gets a gradient."""
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return Pow.apply(a, exponent=b)
    a, b = _pair(a, b)
    return Pow.apply(a, b)


def neg(x):
    return Neg.apply(x)


def matmul(a, b):
    return MatMul.apply(*_pair(a, b))


def linear(x, weight, bias=None):
    """x @ weight^T + bias with weight (out, in), as ``torch.nn.functional.linear``."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


# ----------------------------------------------------------------------- unary
def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return ReLU.apply(x)


def gelu(x, approximate="tanh"):
    """GELU; ``approximate="tanh"`` is GPT-2's form, ``"none"`` the exact erf form."""
    return GELU.apply(x, approximate=approximate)


# ----------------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims=False):  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, correction=0):
    """Variance; biased (correction=0) by default, pass correction=1 for the unbiased one."""
    return Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------- shapes
def reshape(x, *shape):
    return x.reshape(*shape)


def transpose(x, *axes):
    """``transpose(x)`` reverses the axes; ``transpose(x, a, b)`` swaps two axes (as PyTorch);
    ``transpose(x, (2, 0, 1))`` applies a permutation (as NumPy)."""
    return x.transpose(*axes)


def permute(x, *axes):
    return x.permute(*axes)


def swapaxes(x, a, b):
    return x.swapaxes(a, b)


def getitem(x, index):
    return x[index]


def concat(tensors, axis=0):
    return Concat.apply(*tensors, axis=axis)


cat = concat


def stack(tensors, axis=0):
    return Stack.apply(*tensors, axis=axis)


def split(x, size_or_sizes, axis=-1):
    """Split along ``axis`` into pieces of ``size`` (an int) or of the given sizes (a list)."""
    return x.split(size_or_sizes, axis)


# ----------------------------------------------------------------------- selection
def where(cond, a, b):
    """a where cond else b; ``cond`` is a boolean array or tensor and gets no gradient."""
    a, b = _pair(a, b)
    return Where.apply(a, b, cond=array_of(cond))


def masked_fill(x, mask, value):
    return x.masked_fill(mask, value)


# ----------------------------------------------------------------------- neural-network ops
def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits, targets, ignore_index=-100):
    """Mean cross-entropy of integer ``targets`` (...) under ``logits`` (..., C)."""
    return CrossEntropy.apply(logits, targets=array_of(targets), ignore_index=ignore_index)


def embedding(ids, weight):
    """Rows of ``weight`` (V, C) picked by integer ``ids`` (any shape) -> ids.shape + (C,)."""
    return Embedding.apply(weight, ids=array_of(ids))


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout; the identity when not training or p == 0."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p, rng=rng)


def layer_norm(x, weight, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (one fused op)."""
    return LayerNorm.apply(x, weight, eps=eps) if bias is None else LayerNorm.apply(x, weight, bias, eps=eps)


def scaled_dot_product_attention(q, k, v, causal=True, dropout_p=0.0, rng=None):
    """softmax(q k^T / sqrt(D) + causal mask) @ v for q (B, H, Tq, D), k/v (B, H, Tk, D)."""
    return ScaledDotProductAttention.apply(q, k, v, causal=causal, dropout_p=dropout_p, rng=rng)


def qkv_attention(qkv, n_head, dropout_p=0.0, rng=None):
    """Causal attention from packed qkv (B, T, 3C) with ``n_head`` heads -> (B, T, C), heads merged.

    The same as splitting qkv into q, k, v (B, H, T, C/H), ``scaled_dot_product_attention`` and
    merging the heads, as one op whose backward writes dq, dk, dv into one dqkv (B, T, 3C).
    """
    return QKVAttention.apply(qkv, n_head=n_head, dropout_p=dropout_p, rng=rng)


# ----------------------------------------------------------------------- chat-tuning losses
# (ops/chat_losses.py holds their forwards, backwards and math)
def token_logprobs(logits, targets, ignore_index=-100):
    """log p(targets) under softmax(logits): logits (..., V), targets (...) int -> (...)."""
    return TokenLogprobs.apply(logits, targets=array_of(targets), ignore_index=ignore_index)


def sequence_logprobs(logits, targets, mask):
    """Sum of log p(target) over the positions where ``mask`` is True: (B, T, V) -> (B,).

    The log-probability of each answer given its prompt, when ``mask`` marks the answer's tokens.
    """
    xp = get_array_module(logits.data)
    m = xp.asarray(array_of(mask)).astype(bool)
    safe = xp.where(m, xp.asarray(array_of(targets)), -100)  # masked positions need no valid id
    return sum(token_logprobs(logits, safe), axis=-1)


def log_sigmoid(x):
    """log sigmoid(x), computed without overflow."""
    return LogSigmoid.apply(x)


def bradley_terry_loss(r_chosen, r_rejected):
    """Mean of -log sigmoid(r_chosen - r_rejected) over pairs (B,): the reward model's loss."""
    return neg(mean(log_sigmoid(sub(r_chosen, r_rejected))))


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    """Mean of -log sigmoid(beta ((pc - rc) - (pr - rr))) over pairs (B,) each: the DPO loss."""
    args = [policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps]
    like = next(a for a in args if isinstance(a, Tensor))
    return DPOLoss.apply(*[_lift(a, like) for a in args], beta=beta)


def ppo_clipped_loss(logp, old_logp, advantages, mask, clip_eps=0.2):
    """-mean over answer tokens of min(r A, clip(r, 1 - eps, 1 + eps) A), r = exp(logp - old_logp)."""
    return PPOClippedLoss.apply(
        logp, old_logp=array_of(old_logp), advantages=array_of(advantages), mask=array_of(mask), clip_eps=clip_eps
    )
