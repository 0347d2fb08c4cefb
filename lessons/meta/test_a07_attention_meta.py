"""Meta tests of assignment 7: the handout is unsolved, and its grader catches typical mistakes."""

import numpy as np
import pytest

from lessons.a07_attention import exercises
from lessons.a07_attention import test_a07_attention as grader
from lessons.grading import meta_tests, planted
from npgpt.autograd import Context

solutions = pytest.importorskip("lessons.a07_attention.solutions", reason="solutions.py removed (student handout)")


def _backward_only(m):
    # the handout's forward rests on its causal_mask stub: run the reference forward, then the
    # handout's backward, so that the call hits exactly one stub
    ctx = Context()
    ctx.needs_input_grad = (True, True, True)
    q = np.linspace(-1, 1, 12).reshape(1, 1, 3, 4)
    out = solutions.ScaledDotProductAttention.forward(ctx, q, q + 0.5, q - 0.5)
    return m.ScaledDotProductAttention.backward(ctx, np.ones_like(out))


STUB_CALLS = {
    "causal_mask": lambda m: m.causal_mask(3, 3),
    "softmax_backward": lambda m: m.softmax_backward(np.full((2, 3), 1 / 3), np.ones((2, 3))),
    "ScaledDotProductAttention.backward": _backward_only,
}


# ----------------------------------------------------------------------------------- planted bugs
def _mask_hides_diagonal(Tq, Tk):
    return np.triu(np.ones((Tq, Tk), dtype=bool), k=Tk - Tq)


def _mask_ignores_offset(Tq, Tk):
    return np.triu(np.ones((Tq, Tk), dtype=bool), k=1)


def _mask_transposed(Tq, Tk):
    return np.tril(np.ones((Tq, Tk), dtype=bool), k=-1 - (Tk - Tq))


def _backward(sm=None, dk_transpose=True, dv_transpose=True, scale=True):
    """An attention backward with one planted mistake.

    A missing transpose is planted where the scores are square (Tq = Tk) only: elsewhere the shapes
    would not even multiply, and a plant that crashes by itself tests nothing.
    """

    def backward(ctx, g):
        q, k, v, p = ctx.saved_tensors
        s = ctx.scale if scale else 1.0
        square = p.shape[-1] == p.shape[-2]
        dv = (p.swapaxes(-1, -2) if dv_transpose or not square else p) @ g
        ds = (sm or solutions.softmax_backward)(p, g @ v.swapaxes(-1, -2))
        dq = (ds @ k) * s
        dk = ((ds.swapaxes(-1, -2) if dk_transpose or not square else ds) @ q) * s
        return dq, dk, dv

    return staticmethod(backward)


PLANTED = [
    planted("mask-hides-the-diagonal", None, "causal_mask", _mask_hides_diagonal, grader.test_causal_mask),
    planted("mask-ignores-the-cache-offset", None, "causal_mask", _mask_ignores_offset, grader.test_causal_mask),
    planted("mask-masks-the-past", None, "causal_mask", _mask_transposed, grader.test_causal_mask),
    planted(
        "softmax-backward-missing-sum",
        None,
        "softmax_backward",
        lambda p, dp: p * dp,
        grader.test_softmax_backward_matches_the_jacobian,
    ),
    planted(
        "softmax-backward-sums-wrong-axis",
        None,
        "softmax_backward",
        lambda p, dp: p * (dp - (dp * p).sum(axis=-2, keepdims=True)),
        grader.test_softmax_backward_matches_the_jacobian,
    ),
    planted(
        "softmax-backward-missing-p",
        None,
        "softmax_backward",
        lambda p, dp: dp - (dp * p).sum(axis=-1, keepdims=True),
        grader.test_softmax_backward_matches_the_jacobian,
    ),
    planted(
        "attention-missing-scale",
        "ScaledDotProductAttention",
        "backward",
        _backward(scale=False),
        grader.test_attention_gradcheck,
    ),
    planted(
        "attention-dk-missing-transpose",
        "ScaledDotProductAttention",
        "backward",
        _backward(dk_transpose=False),
        grader.test_attention_gradcheck,
    ),
    planted(
        "attention-dv-missing-transpose",
        "ScaledDotProductAttention",
        "backward",
        _backward(dv_transpose=False),
        grader.test_attention_gradcheck,
    ),
    planted(
        "attention-softmax-backward-skipped",
        "ScaledDotProductAttention",
        "backward",
        _backward(sm=lambda p, dp: dp),
        grader.test_attention_matches_npgpt,
    ),
    planted(
        "attention-missing-scale-in-a-layer",
        "ScaledDotProductAttention",
        "backward",
        _backward(scale=False),
        grader.test_inside_a_multi_head_layer,
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
