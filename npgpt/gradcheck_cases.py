"""The gradient-check examples of every op, in one place (the op files hold only the math).

``CASES`` maps each op class to the ``Case``s it is checked on: ``npgpt gradcheck`` runs each
against central finite differences in float64, the tests run them on NumPy and CuPy and cross-check
against PyTorch where a case names a ``torch_fn``. ``all_functions()`` lists every op (the class
hierarchy is the registry), so an op added to ``npgpt.ops`` without examples here is reported.

Inputs are drawn on the CPU from a seeded ``numpy.random.Generator`` and then moved to the array
module under test, so NumPy and CuPy runs see identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import functional as F
from .autograd import Function
from .backend import get_array_module
from .ops.attention import QKVAttention, ScaledDotProductAttention
from .ops.chat_losses import DPOLoss, LogSigmoid, PPOClippedLoss, TokenLogprobs
from .ops.dropout import Dropout
from .ops.elementwise import GELU, Add, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub, Tanh
from .ops.embedding import Embedding
from .ops.layernorm import LayerNorm
from .ops.matmul import Linear, MatMul
from .ops.reduce import Max, Mean, Sum, Var
from .ops.rope import RoPE, rope_tables
from .ops.select import MaskedFill, Where
from .ops.shape import Concat, GetItem, Reshape, Stack, Transpose
from .ops.softmax import CrossEntropy, LogSoftmax, Softmax

try:  # a student handout leaves npgpt/reference out: these torch lines would answer tasks 8.3, 15.3
    from .reference import torch_ops
except ImportError:
    torch_ops = None


@dataclass
class Case:
    """One gradient-check example of an op: ``fn(*inputs)`` must be differentiable.

    ``torch_fn(torch, *inputs)`` computes the same thing with PyTorch for cross-checks (optional).
    Inputs are built by ``make(xp, dtype, rng)`` so the same case runs on NumPy or CuPy.
    """

    name: str
    fn: Callable
    make: Callable
    torch_fn: Callable | None = None
    kwargs: dict = field(default_factory=dict)


def all_functions() -> list[type[Function]]:
    """Every op of npgpt: the ``Function`` subclasses defined in npgpt's modules (test-defined ones,
    such as planted-bug ops, are left out). The registry is the class hierarchy itself."""
    seen, out, stack = set(), [], list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c.__module__.startswith("npgpt."):
            out.append(c)
        stack.extend(c.__subclasses__())
    return sorted(out, key=lambda c: (c.__module__, c.__name__))


def cases_for(op: type[Function]) -> list[Case]:
    """The examples ``op`` is gradient-checked on (empty for an op without any)."""
    return CASES.get(op, [])


def uncovered_ops() -> list[str]:
    """Ops with no gradient-check example here (checked by dedicated tests, or missing)."""
    return [f.__name__ for f in all_functions() if not cases_for(f)]


# ----------------------------------------------------------------------- input makers
def rand(xp, dtype, rng, shape):
    """Standard-normal array."""
    return xp.asarray(rng.standard_normal(shape).astype(dtype))


def randpos(xp, dtype, rng, shape):
    """Uniform in [0.5, 2): safe for log, sqrt, division and powers."""
    return xp.asarray(rng.uniform(0.5, 2.0, shape).astype(dtype))


def distinct(xp, dtype, rng, shape):
    """Values whose pairwise gaps are at least 0.05: no ties, so max/argmax are stable under eps."""
    n = int(np.prod(shape)) if shape else 1
    v = (rng.permutation(n) * 0.05 + rng.uniform(-0.01, 0.01)).astype(dtype)
    return xp.asarray((v - v.mean()).reshape(shape))


def away_from_zero(xp, dtype, rng, shape):
    """Standard-normal values moved 0.1 away from 0 (a kink, where finite differences mean nothing)."""
    a = rand(xp, dtype, rng, shape)
    return a + 0.1 * xp.sign(a)


def inputs(*shapes, make=rand):
    """A ``make`` for a case: one array per shape, each drawn with ``make``."""
    return lambda xp, dt, rng: [make(xp, dt, rng, s) for s in shapes]


# ----------------------------------------------------------------------- elementwise
# shape pairs that exercise broadcasting in both directions, size-1 axes and 0-d scalars
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((1, 4), (3, 1, 4)), ((), (2, 3))]


def _binary(fn, torch_fn, make_b=rand):
    return [
        Case(
            f"{sa}x{sb}",
            fn,
            lambda xp, dt, rng, sa=sa, sb=sb: [rand(xp, dt, rng, sa), make_b(xp, dt, rng, sb)],
            torch_fn,
        )
        for sa, sb in BROADCAST_SHAPES
    ]


def _unary(fn, torch_fn, make=rand, shapes=((3, 4), (2, 1, 3), ())):
    return [Case(f"{s}", fn, inputs(s, make=make), torch_fn) for s in shapes]


def _pow_cases():
    scalar = [
        Case(f"{s}**{p}", lambda a, p=p: a**p, inputs(s, make=randpos), lambda t, a, p=p: a**p)
        for s, p in [((3, 4), 2), ((2, 3), 0.5), ((), 3), ((4,), -1.5)]
    ]
    tensor = [
        Case(
            f"{sa}**{sb}",
            lambda a, b: a**b,
            lambda xp, dt, rng, sa=sa, sb=sb: [randpos(xp, dt, rng, sa), rand(xp, dt, rng, sb)],
            lambda t, a, b: a**b,
        )
        for sa, sb in [((3, 4), (3, 4)), ((2, 3), (3,)), ((3, 1), ())]
    ]
    return scalar + tensor


def _gelu_cases():
    tanh_form = _unary(
        lambda a: a.gelu(), lambda t, a: t.nn.functional.gelu(a, approximate="tanh"), shapes=((3, 4), (2, 5))
    )
    exact = Case("exact", lambda a: a.gelu(approximate="none"), inputs((3, 4)), lambda t, a: t.nn.functional.gelu(a))
    return tanh_form + [exact]


# ----------------------------------------------------------------------- reductions
AXES = [None, 0, -1, (0, 2), (-1, -2)]


def _tdims(a, axis):
    return tuple(range(a.dim())) if axis is None else axis


def _reduce(fn_of_axis, torch_of_axis, make=rand):
    cases = [
        Case(
            f"axis={axis},keepdims={keep}",
            lambda a, axis=axis, keep=keep: fn_of_axis(a, axis, keep),
            inputs((2, 3, 4), make=make),
            lambda t, a, axis=axis, keep=keep: torch_of_axis(t, a, axis, keep),
        )
        for axis in AXES
        for keep in (False, True)
    ]
    scalar = Case(
        "scalar",
        lambda a: fn_of_axis(a, None, False),
        inputs((), make=make),
        lambda t, a: torch_of_axis(t, a, None, False),
    )
    return cases + [scalar]


def _var_cases():
    return _reduce(
        lambda a, ax, k: a.var(axis=ax, keepdims=k),
        lambda t, a, ax, k: a.var(dim=_tdims(a, ax), keepdim=k, correction=0),
    ) + [
        Case(
            "correction=1",
            lambda a: a.var(axis=-1, correction=1),
            inputs((3, 5)),
            lambda t, a: a.var(dim=-1, correction=1),
        )
    ]


# ----------------------------------------------------------------------- shapes and selection
def _reshape_cases():
    return [
        Case("(3,4)->(2,6)", lambda a: a.reshape(2, 6), inputs((3, 4)), lambda t, a: a.reshape(2, 6)),
        Case("(2,3,4)->(-1,)", lambda a: a.reshape(-1), inputs((2, 3, 4)), lambda t, a: a.reshape(-1)),
        Case("()->(1,1)", lambda a: a.reshape(1, 1), inputs(()), lambda t, a: a.reshape(1, 1)),
    ]


def _transpose_cases():
    mk = inputs((2, 3, 4))
    return [
        Case("reverse", lambda a: a.transpose(), mk, lambda t, a: a.permute(2, 1, 0)),
        Case("permute(1,2,0)", lambda a: a.permute(1, 2, 0), mk, lambda t, a: a.permute(1, 2, 0)),
        Case("swapaxes(-1,-2)", lambda a: a.swapaxes(-1, -2), mk, lambda t, a: a.transpose(-1, -2)),
    ]


def _getitem_cases():
    mk = inputs((4, 5))
    ids = np.array([0, 2, 2, 3])  # a repeated index: its gradient must accumulate
    return [
        Case("[1:3, ::2]", lambda a: a[1:3, ::2], mk, lambda t, a: a[1:3, ::2]),
        Case("[-1]", lambda a: a[-1], mk, lambda t, a: a[-1]),
        Case("[..., None, 1]", lambda a: a[..., None, 1], mk, lambda t, a: a[..., None, 1]),
        Case("[ids] repeated", lambda a: a[ids], mk, lambda t, a: a[t.as_tensor(ids)]),
        Case("[ids, ids+1]", lambda a: a[ids, ids + 1], mk, lambda t, a: a[t.as_tensor(ids), t.as_tensor(ids + 1)]),
    ]


def _concat_cases():
    return [
        Case(
            "axis=0",
            lambda a, b: F.concat([a, b], axis=0),
            inputs((2, 3), (4, 3)),
            lambda t, a, b: t.cat([a, b], 0),
        ),
        Case(
            "axis=-1 x3",
            lambda a, b, c: F.concat([a, b, c], axis=-1),
            inputs((2, 1), (2, 3), (2, 2)),
            lambda t, a, b, c: t.cat([a, b, c], -1),
        ),
    ]


def _stack_cases():
    mk = inputs((2, 3), (2, 3), (2, 3))
    return [
        Case("axis=0", lambda a, b, c: F.stack([a, b, c]), mk, lambda t, a, b, c: t.stack([a, b, c])),
        Case("axis=-1", lambda a, b, c: F.stack([a, b, c], axis=-1), mk, lambda t, a, b, c: t.stack([a, b, c], -1)),
    ]


def _cond(shape):
    return np.random.default_rng(7).random(shape) > 0.5


def _where_cases():
    return [
        Case(
            "same shapes",
            lambda a, b: F.where(_cond((3, 4)), a, b),
            inputs((3, 4), (3, 4)),
            lambda t, a, b: t.where(t.as_tensor(_cond((3, 4))), a, b),
        ),
        Case(
            "broadcast",
            lambda a, b: F.where(_cond((2, 3, 1)), a, b),
            inputs((3, 4), ()),
            lambda t, a, b: t.where(t.as_tensor(_cond((2, 3, 1))), a, b),
        ),
    ]


def _masked_fill_cases():
    tri = np.triu(np.ones((4, 4), dtype=bool), k=1)
    # a moderate fill value: a huge one (attention's -1e4) adds |L| ~ 1e4 to the checked loss,
    # and the finite difference's rounding noise (~1e-16 |L| / h) would then reach 1e-6
    return [
        Case(
            "causal",
            lambda a: a.masked_fill(tri, -3.0),
            inputs((2, 4, 4)),
            lambda t, a: a.masked_fill(t.as_tensor(tri), -3.0),
        ),
    ]


# ----------------------------------------------------------------------- matrix products
def _matmul_cases():
    pairs = [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((1, 3, 4), (2, 4, 2)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4,)),
        ((4,), (2, 4, 3)),
    ]
    return [Case(f"{sa}@{sb}", lambda a, b: a @ b, inputs(sa, sb), lambda t, a, b: a @ b) for sa, sb in pairs]


def _linear_cases():
    tlin = lambda t, x, w, b=None: t.nn.functional.linear(x, w, b)  # noqa: E731
    return [
        Case("(3,4) bias", lambda x, w, b: F.linear(x, w, b), inputs((3, 4), (5, 4), (5,)), tlin),
        Case("(2,3,4) bias", lambda x, w, b: F.linear(x, w, b), inputs((2, 3, 4), (5, 4), (5,)), tlin),
        Case("(2,3,4) no bias", lambda x, w: F.linear(x, w), inputs((2, 3, 4), (5, 4)), tlin),
    ]


# ----------------------------------------------------------------------- neural-network ops
def _softmax_cases(method, shapes_axes):
    return [
        Case(
            f"{s} axis={ax}",
            lambda a, ax=ax: getattr(a, method)(axis=ax),
            inputs(s),
            lambda t, a, ax=ax: getattr(a, method)(ax),
        )
        for s, ax in shapes_axes
    ]


def _cross_entropy_cases():
    t1 = np.array([0, 4, 2])
    t2 = np.array([[1, 3, -100, 0], [2, 2, 4, -100]])
    return [
        Case(
            "(3,5)",
            lambda a: F.cross_entropy(a, t1),
            inputs((3, 5)),
            lambda t, a: t.nn.functional.cross_entropy(a, t.as_tensor(t1)),
        ),
        Case(
            "(2,4,5) ignore",
            lambda a: F.cross_entropy(a, t2),
            inputs((2, 4, 5)),
            lambda t, a: t.nn.functional.cross_entropy(a.reshape(-1, 5), t.as_tensor(t2).reshape(-1)),
        ),
    ]


def _embedding_cases():
    ids = np.array([[0, 3, 3], [5, 0, 1]])  # repeated ids: their gradients must add
    return [
        Case(
            "(6,4)[2,3]",
            lambda w: F.embedding(ids, w),
            inputs((6, 4)),
            lambda t, w: t.nn.functional.embedding(t.as_tensor(ids), w),
        ),
    ]


def _layer_norm_cases():
    def mk(shape, bias=True, constant_row=False):
        def make(xp, dt, rng):
            x = rand(xp, dt, rng, shape)
            if constant_row:
                x[0] = 0.7  # var = 0: eps keeps it finite
            ins = [x, 1 + 0.1 * rand(xp, dt, rng, shape[-1:])]
            return ins + [rand(xp, dt, rng, shape[-1:])] if bias else ins

        return make

    tln = lambda t, x, w, b=None: t.nn.functional.layer_norm(x, x.shape[-1:], w, b, 1e-5)  # noqa: E731
    return [
        Case("(4,6)", lambda x, w, b: F.layer_norm(x, w, b), mk((4, 6)), tln),
        Case("(2,3,5)", lambda x, w, b: F.layer_norm(x, w, b), mk((2, 3, 5)), tln),
        Case("no bias", lambda x, w: F.layer_norm(x, w), mk((3, 4), bias=False), tln),
        Case("constant row", lambda x, w, b: F.layer_norm(x, w, b), mk((3, 5), constant_row=True), tln),
    ]


def _rope(x, offset=0):
    c, s = rope_tables(x.shape[-2], x.shape[-1], offset=offset, dtype=x.dtype)
    xp = get_array_module(x.data)
    return RoPE.apply(x, cos=xp.asarray(c), sin=xp.asarray(s))


def _torch_rope(t, x, offset=0):
    c, s = rope_tables(x.shape[-2], x.shape[-1], offset=offset, dtype=np.float64)
    return torch_ops.rope(t, x, t.as_tensor(c, dtype=x.dtype), t.as_tensor(s, dtype=x.dtype))


def _rope_cases():
    ref = torch_ops is not None
    return [
        Case("(2,3,5,4)", _rope, inputs((2, 3, 5, 4)), _torch_rope if ref else None),
        Case(
            "(4,6) offset 7",
            lambda x: _rope(x, 7),
            inputs((4, 6)),
            (lambda t, x: _torch_rope(t, x, 7)) if ref else None,
        ),
    ]


def _attention_cases():
    def mk(B, H, Tq, Tk, D):
        return inputs((B, H, Tq, D), (B, H, Tk, D), (B, H, Tk, D))

    sdpa = F.scaled_dot_product_attention
    tref = lambda t, q, k, v, c=True: t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=c)  # noqa: E731
    return [
        Case("causal (2,2,5,4)", lambda q, k, v: sdpa(q, k, v), mk(2, 2, 5, 5, 4), tref),
        Case(
            "no mask (1,3,4,2)",
            lambda q, k, v: sdpa(q, k, v, causal=False),
            mk(1, 3, 4, 4, 2),
            lambda t, q, k, v: tref(t, q, k, v, False),
        ),
        Case("cached Tq=2 Tk=5", lambda q, k, v: sdpa(q, k, v), mk(1, 2, 2, 5, 3)),
        Case("dropout 0.2", lambda q, k, v: sdpa(q, k, v, dropout_p=0.2, rng=3), mk(1, 2, 4, 4, 3)),
    ]


def _qkv_attention_cases():
    def tref(t, qkv, H):  # split the heads, PyTorch's attention, merge them back
        B, T, C3 = qkv.shape
        q, k, v = qkv.reshape(B, T, 3, H, C3 // (3 * H)).permute(2, 0, 3, 1, 4)
        y = t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return y.transpose(1, 2).reshape(B, T, C3 // 3)

    qkv_attn = F.qkv_attention
    return [
        Case("(2,5,3*2*3) 2 heads", lambda a: qkv_attn(a, 2), inputs((2, 5, 18)), lambda t, a: tref(t, a, 2)),
        Case("(1,4,3*3*2) 3 heads", lambda a: qkv_attn(a, 3), inputs((1, 4, 18)), lambda t, a: tref(t, a, 3)),
        Case("dropout 0.2", lambda a: qkv_attn(a, 2, dropout_p=0.2, rng=3), inputs((1, 4, 12))),
    ]


def _dropout_cases():
    return [Case("p=0.3", lambda a: F.dropout(a, 0.3, True, rng=0), inputs((4, 5)))]


def _token_logprobs_cases():
    t1 = np.array([[1, 3, -100, 0], [2, 2, 4, -100]])
    mask = np.array([[False, True, True, True], [True, False, True, False]])
    t2 = np.where(mask, np.array([[0, 3, 1, 0], [4, 2, 4, 1]]), -100)

    def torch_tok(t, a, tg=t1):
        tt = t.as_tensor(tg)
        lp = a.log_softmax(-1).gather(-1, tt.clamp(min=0)[..., None])[..., 0]
        return lp * (tt != -100)

    return [
        Case("(2,4,5) ignore", lambda a: F.token_logprobs(a, t1), inputs((2, 4, 5)), torch_tok),
        Case(
            "sequence (2,4,5) masked",
            lambda a: F.sequence_logprobs(a, t2, mask),
            inputs((2, 4, 5)),
            lambda t, a: torch_tok(t, a, t2).sum(-1),
        ),
    ]


def _log_sigmoid_cases():
    def mk(*shapes):
        return lambda xp, dt, rng: [rand(xp, dt, rng, s) * 3 for s in shapes]

    return [
        Case("(3,4)", F.log_sigmoid, mk((3, 4)), lambda t, a: t.nn.functional.logsigmoid(a)),
        Case("()", F.log_sigmoid, mk(()), lambda t, a: t.nn.functional.logsigmoid(a)),
        Case(
            "bradley_terry (5,)",
            F.bradley_terry_loss,
            mk((5,), (5,)),
            lambda t, c, r: -t.nn.functional.logsigmoid(c - r).mean(),
        ),
    ]


def _dpo_cases():
    def mk(xp, dt, rng):
        return [rand(xp, dt, rng, (6,)) * 4 for _ in range(4)]

    ref = torch_ops is not None
    return [
        Case("(6,) beta=0.5", lambda *a: F.dpo_loss(*a, beta=0.5), mk, torch_ops.dpo_loss if ref else None),
        Case(
            "(6,) beta=0.1",
            lambda *a: F.dpo_loss(*a),
            mk,
            (lambda t, *a: torch_ops.dpo_loss(t, *a, beta=0.1)) if ref else None,
        ),
    ]


def _ppo_cases():
    rng = np.random.default_rng(3)
    old = rng.standard_normal((3, 5)) * 0.5  # ratios exp(logp - old) fall on both sides of the clip
    adv = rng.standard_normal((3, 5))
    mask = rng.random((3, 5)) > 0.3

    def torch_ppo(t, lp, eps=0.2):
        r = (lp - t.as_tensor(old)).exp()
        a = t.as_tensor(adv)
        obj = t.minimum(r * a, r.clamp(1 - eps, 1 + eps) * a)
        return -(obj * t.as_tensor(mask)).sum() / mask.sum()

    return [
        Case(
            "(3,5) clip=0.2",
            lambda lp: F.ppo_clipped_loss(lp, old, adv, mask, clip_eps=0.2),
            lambda xp, dt, rng: [rand(xp, dt, rng, (3, 5)) * 0.5],
            torch_ppo,
        )
    ]


# ----------------------------------------------------------------------- the table
# ToDtype and ToDevice have no cases: dedicated tests check their backward (across dtypes, devices)
CASES: dict[type[Function], list[Case]] = {
    Add: _binary(lambda a, b: a + b, lambda t, a, b: a + b),
    Sub: _binary(lambda a, b: a - b, lambda t, a, b: a - b),
    Mul: _binary(lambda a, b: a * b, lambda t, a, b: a * b),
    Div: _binary(lambda a, b: a / b, lambda t, a, b: a / b, make_b=randpos),
    Pow: _pow_cases(),
    Neg: _unary(lambda a: -a, lambda t, a: -a),
    Exp: _unary(lambda a: a.exp(), lambda t, a: a.exp()),
    Log: _unary(lambda a: a.log(), lambda t, a: a.log(), make=randpos),
    Sqrt: _unary(lambda a: a.sqrt(), lambda t, a: a.sqrt(), make=randpos),
    Tanh: _unary(lambda a: a.tanh(), lambda t, a: a.tanh()),
    Sigmoid: _unary(lambda a: a.sigmoid(), lambda t, a: a.sigmoid()),
    ReLU: _unary(lambda a: a.relu(), lambda t, a: a.relu(), make=away_from_zero),
    GELU: _gelu_cases(),
    Sum: _reduce(lambda a, ax, k: a.sum(axis=ax, keepdims=k), lambda t, a, ax, k: a.sum(dim=_tdims(a, ax), keepdim=k)),
    Mean: _reduce(
        lambda a, ax, k: a.mean(axis=ax, keepdims=k), lambda t, a, ax, k: a.mean(dim=_tdims(a, ax), keepdim=k)
    ),
    Var: _var_cases(),
    Max: _reduce(
        lambda a, ax, k: a.max(axis=ax, keepdims=k),
        lambda t, a, ax, k: a.amax(dim=_tdims(a, ax), keepdim=k),
        make=distinct,
    ),
    Reshape: _reshape_cases(),
    Transpose: _transpose_cases(),
    GetItem: _getitem_cases(),
    Concat: _concat_cases(),
    Stack: _stack_cases(),
    Where: _where_cases(),
    MaskedFill: _masked_fill_cases(),
    MatMul: _matmul_cases(),
    Linear: _linear_cases(),
    Softmax: _softmax_cases("softmax", [((3, 5), -1), ((2, 3, 4), 1), ((4,), 0)]),
    LogSoftmax: _softmax_cases("log_softmax", [((3, 5), -1), ((2, 3, 4), 1)]),
    CrossEntropy: _cross_entropy_cases(),
    Embedding: _embedding_cases(),
    Dropout: _dropout_cases(),
    LayerNorm: _layer_norm_cases(),
    RoPE: _rope_cases(),
    ScaledDotProductAttention: _attention_cases(),
    QKVAttention: _qkv_attention_cases(),
    TokenLogprobs: _token_logprobs_cases(),
    LogSigmoid: _log_sigmoid_cases(),
    DPOLoss: _dpo_cases(),
    PPOClippedLoss: _ppo_cases(),
}
