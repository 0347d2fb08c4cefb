"""Meta tests of assignment 3: the handout is unsolved, and its grader catches typical mistakes."""

import numpy as np
import pytest

from lessons.a03_broadcasting_reductions_matmul import exercises
from lessons.a03_broadcasting_reductions_matmul import test_a03_broadcasting_reductions_matmul as grader
from lessons.grading import meta_tests, planted, t64

solutions = pytest.importorskip(
    "lessons.a03_broadcasting_reductions_matmul.solutions", reason="solutions.py removed (student handout)"
)


def _backward_of(op, shapes, m, **kw):
    out = getattr(m, op).apply(*[t64(s, seed=i + 1) for i, s in enumerate(shapes)], **kw)
    out.backward(np.ones(out.shape))


STUB_CALLS = {
    "unbroadcast": lambda m: m.unbroadcast(np.ones((2, 3)), (3,)),
    "Mul.backward": lambda m: _backward_of("Mul", [(2, 3), (3,)], m),
    "Sum.backward": lambda m: _backward_of("Sum", [(2, 3)], m, axis=0),
    "Mean.backward": lambda m: _backward_of("Mean", [(2, 3)], m, axis=0),
    "Max.backward": lambda m: _backward_of("Max", [(2, 3)], m, axis=0),
    "MatMul.backward": lambda m: _backward_of("MatMul", [(2, 3), (3, 4)], m),
}


# ----------------------------------------------------------------------------------- planted bugs
def _unbroadcast_leading_only(grad, shape):
    """Sums the leading axes only: the size-1 axes of ``shape`` keep the broadcast length."""
    d = grad.ndim - len(shape)
    return grad.sum(axis=tuple(range(d))) if d else grad


def _unbroadcast_mean(grad, shape):
    d = grad.ndim - len(shape)
    grad = grad.mean(axis=tuple(range(d))) if d else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return (grad.mean(axis=axes, keepdims=True) if axes else grad).reshape(shape)


def _sum_ignores_g(ctx, g):
    """d sum / dx = 1, forgetting to multiply by the upstream gradient: right only for g = 1."""
    return (np.ones(ctx.in_shape, dtype=g.dtype),)


def _mean_missing_n(ctx, g):
    return solutions.Sum.backward(ctx, g)


def _max_ties_not_split(ctx, g):
    (mask,) = ctx.saved_tensors
    return ((g if ctx.keepdims else np.expand_dims(g, ctx.axes)) * mask,)


def _max_count_upcasts(ctx, g):
    (mask,) = ctx.saved_tensors
    g = g if ctx.keepdims else np.expand_dims(g, ctx.axes)
    return (g * mask / mask.sum(axis=ctx.axes, keepdims=True),)  # int count: float32 / int64 -> float64


def _matmul_missing_transpose(ctx, g):
    a, b = ctx.saved_tensors
    return solutions.unbroadcast(g @ b, a.shape), solutions.unbroadcast(a @ g, b.shape)


def _matmul_no_unbroadcast(ctx, g):
    a, b = ctx.saved_tensors
    return g @ b.swapaxes(-1, -2), a.swapaxes(-1, -2) @ g


def _matmul_wrong_order(ctx, g):
    a, b = ctx.saved_tensors
    return b.swapaxes(-1, -2) @ g, g @ a.swapaxes(-1, -2)


PLANTED = [
    planted("unbroadcast-leading-axes-only", None, "unbroadcast", _unbroadcast_leading_only, grader.test_unbroadcast),
    planted("unbroadcast-mean-not-sum", None, "unbroadcast", _unbroadcast_mean, grader.test_unbroadcast),
    planted(
        "mul-swapped",
        "Mul",
        "backward",
        staticmethod(
            lambda ctx, g: (
                solutions.unbroadcast(g * ctx.saved_tensors[0], ctx.saved_tensors[0].shape),
                solutions.unbroadcast(g * ctx.saved_tensors[1], ctx.saved_tensors[1].shape),
            )
        ),
        grader.test_mul_broadcast_gradcheck,
    ),
    planted(
        "mul-no-unbroadcast",
        "Mul",
        "backward",
        staticmethod(lambda ctx, g: (g * ctx.saved_tensors[1], g * ctx.saved_tensors[0])),
        grader.test_mul_broadcast_gradcheck,
    ),
    planted(
        "sum-ignores-upstream-gradient",
        "Sum",
        "backward",
        staticmethod(_sum_ignores_g),
        grader.test_reduction_gradcheck,
    ),
    planted("mean-missing-1/n", "Mean", "backward", staticmethod(_mean_missing_n), grader.test_reduction_gradcheck),
    planted(
        "max-ties-not-split", "Max", "backward", staticmethod(_max_ties_not_split), grader.test_max_splits_ties_equally
    ),
    planted(
        "max-count-upcasts-float32",
        "Max",
        "backward",
        staticmethod(_max_count_upcasts),
        grader.test_float32_gradients_stay_float32,
    ),
    planted(
        "matmul-missing-transpose",
        "MatMul",
        "backward",
        staticmethod(_matmul_missing_transpose),
        grader.test_matmul_square_catches_a_missing_transpose,
    ),
    planted(
        "matmul-no-unbroadcast",
        "MatMul",
        "backward",
        staticmethod(_matmul_no_unbroadcast),
        grader.test_matmul_gradcheck,
    ),
    planted(
        "matmul-wrong-order",
        "MatMul",
        "backward",
        staticmethod(_matmul_wrong_order),
        grader.test_matmul_square_catches_a_missing_transpose,
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
