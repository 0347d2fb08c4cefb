"""Meta tests of assignment 5: the handout is unsolved, and its grader catches typical mistakes."""

import numpy as np
import pytest

from lessons.a05_layernorm import exercises
from lessons.a05_layernorm import test_a05_layernorm as grader
from lessons.grading import meta_tests, planted
from npgpt.autograd import Context

solutions = pytest.importorskip("lessons.a05_layernorm.solutions", reason="solutions.py removed (student handout)")


def _backward_only(m):
    # the handout's forward rests on its normalize stub: run the reference forward, then the
    # handout's backward, so that the call hits exactly one stub
    ctx = Context()
    ctx.needs_input_grad = (True, True, True)
    out = solutions.LayerNorm.forward(ctx, np.arange(6.0).reshape(2, 3), np.ones(3), np.zeros(3))
    return m.LayerNorm.backward(ctx, np.ones_like(out))


STUB_CALLS = {
    "normalize": lambda m: m.normalize(np.arange(6.0).reshape(2, 3)),
    "LayerNorm.backward": _backward_only,
}


# ----------------------------------------------------------------------------------- planted bugs
def _rms_norm(x, eps=1e-5):
    rstd = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)
    return x * rstd, rstd


def _eps_outside(x, eps=1e-5):
    xc = x - x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / (np.sqrt((xc * xc).mean(axis=-1, keepdims=True)) + eps)
    return xc * rstd, rstd


def _unbiased(x, eps=1e-5):
    xc = x - x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt((xc * xc).sum(axis=-1, keepdims=True) / (x.shape[-1] - 1) + eps)
    return xc * rstd, rstd


_reference_normalize = solutions.normalize  # captured before any patching: the plant must not call itself


def _no_keepdims(x, eps=1e-5):
    xhat, rstd = _reference_normalize(x, eps)
    return xhat, rstd[..., 0]


def _backward(drop=(), ghat_is_g=False, dgamma_axis0=False, swap=False, always_beta=False):
    """A LayerNorm backward with one planted mistake (the terms in ``drop`` left out, ...)."""

    def backward(ctx, g):
        xhat, rstd, gamma = ctx.saved_tensors
        C = xhat.shape[-1]
        ghat = g if ghat_is_g else g * gamma
        inner = ghat.copy()
        if "mean" not in drop:
            inner -= ghat.mean(axis=-1, keepdims=True)
        if "xhat" not in drop:
            inner -= xhat * (ghat * xhat).mean(axis=-1, keepdims=True)
        dx = inner if "rstd" in drop else rstd * inner
        dgamma = (g * xhat).sum(axis=0) if dgamma_axis0 else (g * xhat).reshape(-1, C).sum(axis=0)
        dbeta = g.reshape(-1, C).sum(axis=0)
        if swap:
            dgamma, dbeta = dbeta, dgamma
        return (dx, dgamma, dbeta) if ctx.has_beta or always_beta else (dx, dgamma)

    return staticmethod(backward)


PLANTED = [
    planted("normalize-rmsnorm-no-mean", None, "normalize", _rms_norm, grader.test_normalize_matches_layer_norm),
    planted("normalize-eps-outside-sqrt", None, "normalize", _eps_outside, grader.test_normalize_matches_layer_norm),
    planted("normalize-unbiased-variance", None, "normalize", _unbiased, grader.test_normalize_matches_layer_norm),
    planted(
        "normalize-rstd-without-keepdims", None, "normalize", _no_keepdims, grader.test_normalize_matches_layer_norm
    ),
    planted(
        "dx-missing-mean-term", "LayerNorm", "backward", _backward(drop=("mean",)), grader.test_layer_norm_gradcheck
    ),
    planted(
        "dx-missing-xhat-term", "LayerNorm", "backward", _backward(drop=("xhat",)), grader.test_layer_norm_gradcheck
    ),
    planted("dx-missing-rstd", "LayerNorm", "backward", _backward(drop=("rstd",)), grader.test_layer_norm_gradcheck),
    planted("dx-ignores-gamma", "LayerNorm", "backward", _backward(ghat_is_g=True), grader.test_layer_norm_gradcheck),
    planted(
        "dx-missing-mean-term-vs-npgpt",
        "LayerNorm",
        "backward",
        _backward(drop=("mean",)),
        grader.test_layer_norm_matches_npgpt,
    ),
    planted(
        "dx-missing-mean-term-shift",
        "LayerNorm",
        "backward",
        _backward(drop=("mean",)),
        grader.test_dx_is_orthogonal_to_shifts,
    ),
    planted(
        "dx-missing-mean-term-constant-row",
        "LayerNorm",
        "backward",
        _backward(drop=("mean",)),
        grader.test_constant_row_gradient,
    ),
    planted(
        "dgamma-summed-over-axis-0-only",
        "LayerNorm",
        "backward",
        _backward(dgamma_axis0=True),
        grader.test_layer_norm_gradcheck,
    ),
    planted("dgamma-dbeta-swapped", "LayerNorm", "backward", _backward(swap=True), grader.test_layer_norm_gradcheck),
    planted(
        "dbeta-returned-without-bias",
        "LayerNorm",
        "backward",
        _backward(always_beta=True),
        grader.test_layer_norm_gradcheck,
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
