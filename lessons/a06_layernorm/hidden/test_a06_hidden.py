"""Instructor-only tests of assignment 6 (never handed out; ``python -m lessons.grade --hidden``).

They probe what the handed-out tests leave open: the numerical quality of the forward when the
mean is large, and the backward on many features.
"""

import numpy as np
import pytest

import npgpt
from lessons.finite_differences import numerical_vjp
from lessons.grading import assert_close, call_backward
from npgpt.ops.layernorm import LayerNorm


def reference(x, gamma, beta, eps):
    mu = x.mean(axis=-1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    return (x - mu) / sd * gamma + beta


@pytest.mark.task("6.1", points=1)
def test_hidden_forward_with_a_large_mean():
    # var as mean(x^2) - mean(x)^2 cancels catastrophically when the mean is 1e4 and the spread 1
    x = 1e4 + np.random.default_rng(11).standard_normal((3, 16))
    gamma, beta = np.ones(16), np.zeros(16)
    y = LayerNorm.apply(npgpt.tensor(x), npgpt.tensor(gamma), npgpt.tensor(beta), eps=1e-5).numpy()
    assert_close(y, reference(x, gamma, beta, 1e-5), "LayerNorm of rows with mean 1e4", rtol=1e-9, atol=1e-9)


@pytest.mark.task("6.2", points=1)
def test_hidden_dx_with_many_features():
    rng = np.random.default_rng(12)
    x, g, gamma = rng.standard_normal((2, 48)), rng.standard_normal((2, 48)), 1 + 0.2 * rng.standard_normal(48)
    mu = x.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + 1e-5)
    dx = call_backward(LayerNorm, ((x - mu) * rstd, rstd, gamma), g, (True, False, False), has_beta=True)[0]
    expected = numerical_vjp(lambda x: reference(x, gamma, np.zeros(48), 1e-5), x, g)
    assert_close(dx, expected, "dx with 48 features", rtol=1e-6, atol=1e-8)
