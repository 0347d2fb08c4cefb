"""Meta tests of assignment 4: the handout is unsolved, and its grader catches typical mistakes."""

import numpy as np
import pytest

from lessons.a04_softmax_cross_entropy import exercises
from lessons.a04_softmax_cross_entropy import test_a04_softmax_cross_entropy as grader
from lessons.grading import meta_tests, planted
from npgpt.autograd import Context

solutions = pytest.importorskip(
    "lessons.a04_softmax_cross_entropy.solutions", reason="solutions.py removed (student handout)"
)


def _backward_only(op, m, *arrays, **kw):
    # the handout's forwards rest on its logsumexp stub: run the reference forward, then the
    # handout's backward, so that each call hits exactly one stub
    ctx = Context()
    ctx.needs_input_grad = (True,)
    out = getattr(solutions, op).forward(ctx, *arrays, **kw)
    return getattr(m, op).backward(ctx, np.ones_like(out))


STUB_CALLS = {
    "logsumexp": lambda m: m.logsumexp(np.ones((2, 3)), axis=-1),
    "Softmax.backward": lambda m: _backward_only("Softmax", m, np.ones((2, 3)), axis=-1),
    "LogSoftmax.backward": lambda m: _backward_only("LogSoftmax", m, np.ones((2, 3)), axis=-1),
    "CrossEntropy.backward": lambda m: _backward_only("CrossEntropy", m, np.ones((3, 4)), np.array([0, 3, -100])),
}


# ----------------------------------------------------------------------------------- planted bugs
def _lse_naive(x, axis=-1):
    with np.errstate(over="ignore", divide="ignore"):
        return np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _lse_max_only(x, axis=-1):
    return x.max(axis=axis, keepdims=True)


def _softmax_last_axis_only(ctx, g):
    (y,) = ctx.saved_tensors
    return (y * (g - (g * y).sum(axis=-1, keepdims=True)),)


def _log_softmax_uses_log_probs(ctx, g):
    (y,) = ctx.saved_tensors
    return (g - y * g.sum(axis=ctx.axis, keepdims=True),)


def _ce_parts(ctx):
    p, t, valid, n = ctx.saved_tensors
    d = p.copy()
    d[np.arange(p.shape[0]), t] -= 1.0
    return d, valid, n


def _ce_not_divided_by_n(ctx, g):
    d, valid, _ = _ce_parts(ctx)
    return ((d * valid[:, None] * g).reshape(ctx.shape),)


def _ce_divided_by_all_rows(ctx, g):
    d, valid, _ = _ce_parts(ctx)
    return ((d * valid[:, None] * (g / d.shape[0])).reshape(ctx.shape),)


def _ce_ignored_rows_kept(ctx, g):
    d, _, n = _ce_parts(ctx)
    return ((d * (g / n)).reshape(ctx.shape),)


def _ce_upstream_ignored(ctx, g):
    d, valid, n = _ce_parts(ctx)
    return ((d * valid[:, None] / n).reshape(ctx.shape),)


def _ce_float64(ctx, g):
    d, valid, n = _ce_parts(ctx)
    return ((d * valid[:, None] * (g / n)).astype(np.float64).reshape(ctx.shape),)


PLANTED = [
    planted("logsumexp-naive-overflows", None, "logsumexp", _lse_naive, grader.test_logsumexp_is_stable),
    planted("logsumexp-max-only", None, "logsumexp", _lse_max_only, grader.test_logsumexp_is_stable),
    planted(
        "softmax-missing-sum-term",
        "Softmax",
        "backward",
        staticmethod(lambda ctx, g: (g * ctx.saved_tensors[0],)),
        grader.test_softmax_gradcheck,
    ),
    planted(
        "softmax-sums-last-axis-only",
        "Softmax",
        "backward",
        staticmethod(_softmax_last_axis_only),
        grader.test_softmax_gradcheck,
    ),
    planted(
        "softmax-only-right-for-ones",
        "Softmax",
        "backward",
        staticmethod(
            lambda ctx, g: (ctx.saved_tensors[0] * (g - ctx.saved_tensors[0].shape[ctx.axis] * ctx.saved_tensors[0]),)
        ),
        grader.test_softmax_gradcheck,
    ),
    planted(
        "log-softmax-identity",
        "LogSoftmax",
        "backward",
        staticmethod(lambda ctx, g: (g,)),
        grader.test_log_softmax_gradcheck,
    ),
    planted(
        "log-softmax-log-probs-not-probs",
        "LogSoftmax",
        "backward",
        staticmethod(_log_softmax_uses_log_probs),
        grader.test_log_softmax_gradcheck,
    ),
    planted(
        "ce-not-divided-by-n",
        "CrossEntropy",
        "backward",
        staticmethod(_ce_not_divided_by_n),
        grader.test_cross_entropy_gradcheck,
    ),
    planted(
        "ce-divided-by-all-rows",
        "CrossEntropy",
        "backward",
        staticmethod(_ce_divided_by_all_rows),
        grader.test_cross_entropy_matches_npgpt,
    ),
    planted(
        "ce-ignored-rows-get-gradient",
        "CrossEntropy",
        "backward",
        staticmethod(_ce_ignored_rows_kept),
        grader.test_cross_entropy_gradient_is_p_minus_y,
    ),
    planted(
        "ce-upstream-gradient-ignored",
        "CrossEntropy",
        "backward",
        staticmethod(_ce_upstream_ignored),
        grader.test_cross_entropy_matches_npgpt,
    ),
    planted(
        "ce-upcasts-float32",
        "CrossEntropy",
        "backward",
        staticmethod(_ce_float64),
        grader.test_float32_gradients_stay_float32,
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
