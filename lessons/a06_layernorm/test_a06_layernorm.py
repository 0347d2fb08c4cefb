"""Grader of assignment 6 (layer normalization): tasks 6.1 (forward) and 6.2 (backward dx).

    python -m lessons.grade --assignment a06        # points per task
    pytest lessons/a06_layernorm --task 6.2         # one task, pytest's report

The forward is compared with what the instructor's NumPy formula gives, on rows chosen to expose
the usual mistakes (a mean far from 0, a variance below eps, few features, a constant row). The
backward is called directly on saved values from that reference, so task 6.2 is graded even when
6.1 is not done, and compared with central finite differences of the reference forward in float64.
The forward being task 6.1, a handout's grader reads these values on the public cases from
``expected.npz`` (``lessons.expected``).
"""

import numpy as np
import pytest

import npgpt
from lessons.expected import Expected
from lessons.grading import assert_close, call_backward
from npgpt.ops.layernorm import LayerNorm

expected = Expected(__file__)


def rows(C=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            5.0 + 0.5 * rng.standard_normal(C),  # mean far from 0: forgetting to subtract it is far off
            1e-3 * rng.standard_normal(C),  # variance 1e-6 < eps: eps outside the root is far off
            rng.standard_normal(C) * 3 - 1,  # an ordinary row; with C = 6, 1/(C-1) is 20% off
            np.full(C, 0.5),  # constant: var = 0, xhat = 0
        ]
    )


def params(C, seed):
    rng = np.random.default_rng(seed)
    return 1 + 0.3 * rng.standard_normal(C), 0.3 * rng.standard_normal(C)


@pytest.mark.task("6.1", points=3)
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_forward_matches_the_formula(eps):
    x = rows()
    gamma, beta = params(x.shape[-1], 1)
    y = LayerNorm.apply(npgpt.tensor(x), npgpt.tensor(gamma), npgpt.tensor(beta), eps=eps).numpy()
    assert_close(
        y, expected("layernorm_reference", x, gamma, beta, eps), f"LayerNorm(x) with eps={eps}", rtol=1e-10, atol=1e-12
    )


@pytest.mark.task("6.1", points=2)
@pytest.mark.parametrize("shape", [(2, 3, 5), (1, 7), (2, 2, 2, 4)], ids=str)
def test_forward_any_leading_axes(shape):
    x = np.random.default_rng(2).standard_normal(shape) * 2 + 1
    gamma, beta = params(shape[-1], 3)
    y = LayerNorm.apply(npgpt.tensor(x), npgpt.tensor(gamma), npgpt.tensor(beta), eps=1e-5).numpy()
    assert_close(y, expected("layernorm_reference", x, gamma, beta, 1e-5), f"LayerNorm of shape {shape}")


def saved_values(x, gamma, eps=1e-5):
    """What the forward saves for the backward: xhat (..., C), rstd (..., 1), gamma (C,), as the
    reference computes them (task 6.1 is the forward)."""
    return expected("saved_by_the_reference", x, gamma, eps)


@pytest.mark.task("6.2", points=4)
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (1, 7), (3, 2)], ids=str)
def test_dx_matches_finite_differences(shape):
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal(shape) * 2 + 0.5, rng.standard_normal(shape)
    gamma, beta = params(shape[-1], 5)
    dx = call_backward(LayerNorm, saved_values(x, gamma), g, needs_input_grad=(True, False, False), has_beta=True)[0]
    want = expected("layernorm_vjp_reference", x, g, gamma, beta, 1e-5)
    assert_close(dx, want, f"dx for x of shape {shape}", rtol=1e-6, atol=1e-8)


@pytest.mark.task("6.2", points=2)
def test_dx_of_a_constant_row_is_finite():
    # var = 0: xhat = 0 and rstd = 1/sqrt(eps), large but finite
    x, g = np.full((1, 6), 0.5), np.random.default_rng(6).standard_normal((1, 6))
    gamma, _ = params(6, 7)
    dx = call_backward(LayerNorm, saved_values(x, gamma), g, needs_input_grad=(True, False, False), has_beta=True)[0]
    assert np.all(np.isfinite(dx)), "the gradient of a constant row must be finite (eps inside the root)"
    want = expected("constant_row_dx_by_hand", g, gamma, 1e-5)
    assert_close(dx, want, "dx of a constant row (1, 6)", rtol=1e-8, atol=1e-8)


@pytest.mark.task("6.2", points=1)
def test_dx_keeps_float32():
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 3, 4)).astype(np.float32)
    saved = [a.astype(np.float32) for a in saved_values(x.astype(np.float64), np.ones(4))]
    dx = call_backward(LayerNorm, saved, g, needs_input_grad=(True, False, False), has_beta=True)[0]
    assert dx.dtype == np.float32, f"dx must keep the input's dtype float32, got {dx.dtype}"
