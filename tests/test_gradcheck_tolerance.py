"""How sharp the gradient checks are: a backward off by a small factor fails, float32 agrees by value.

``npgpt.gradcheck`` passes an entry when |analytic - numeric| <= atol + rtol * |numeric|. With the
defaults (rtol=1e-6, atol=1e-7) a backward scaled by 1.0009, or by 1.00001, must fail on every op's
gradient-check case, while the correct backward passes. And the float32 gradients every op returns
must equal the float64 ones to float32 precision (not only have the right dtype and be finite).
"""

import inspect

import numpy as np
import pytest
from conftest import make_inputs, op_cases

import npgpt
from npgpt.autograd import Function

_DEFAULTS = inspect.signature(npgpt.gradcheck).parameters
ATOL, RTOL = _DEFAULTS["atol"].default, _DEFAULTS["rtol"].default


def test_the_defaults_are_the_documented_ones():
    assert (ATOL, RTOL) == (1e-7, 1e-6)


def _scaled(backward, factor):
    """``backward`` with every gradient multiplied by ``factor`` (a planted, nearly right backward)."""

    def wrong(ctx, g):
        return tuple(None if d is None else d * factor for d in backward(ctx, g))

    return staticmethod(wrong)


def _report(case):
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case)]
    return npgpt.gradcheck(case.fn, inputs)


def _largest_gradient(case):
    """max |dL/dx| over the case's inputs, for the upstream gradient gradcheck draws (seed 0)."""
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in make_inputs(case)]
    out = case.fn(*inputs)
    out.backward(np.random.default_rng(0).standard_normal(out.shape))
    return max(float(np.abs(t.grad).max(initial=0.0)) for t in inputs)


@pytest.mark.parametrize("factor", [1.0009, 1.00001])
@pytest.mark.parametrize("op, case", op_cases())
def test_a_slightly_scaled_backward_fails(monkeypatch, op, case, factor):
    assert _report(case).ok
    # a scaling shows once (factor - 1) |g| > atol + rtol |g|: every gradient below that size (a
    # mean over many entries, a gradient that is exactly zero) is inside atol, by design
    largest = _largest_gradient(case)
    if largest < ATOL / (factor - 1 - RTOL):
        assert largest == 0.0 or factor < 1.0001, f"{op.__name__} {case.name}: gradients too small to check"
        return
    monkeypatch.setattr(op, "backward", _scaled(op.backward, factor))
    report = _report(case)
    assert not report.ok and report.verdict == "wrong", f"{op.__name__} {case.name} x {factor}:\n{report}"


class _Cube(Function):
    """y = x**3 with a backward scaled by ``factor`` (1.0 is right)."""

    factor = 1.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (3 * x * x * g * _Cube.factor,)


def _cube_report(factor, monkeypatch, **kw):
    monkeypatch.setattr(_Cube, "factor", factor)
    x = npgpt.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    return npgpt.gradcheck(_Cube.apply, [x], **kw)


def test_the_defaults_separate_right_from_nearly_right(monkeypatch):
    right = _cube_report(1.0, monkeypatch)
    assert right.ok and right.verdict == "good" and right.max_rel_err < 1e-8, right
    for factor in (1.0009, 1.00001, 0.99999):
        assert not _cube_report(factor, monkeypatch).ok, factor
    # the tolerance a caller passes is the one applied and shown
    loose = _cube_report(1.0009, monkeypatch, rtol=1e-3)
    assert loose.ok and loose.verdict == "acceptable"
    assert str(loose).splitlines()[-1].endswith("atol=1e-07, rtol=0.001)")


def test_verdict_words_follow_the_pass_rule(monkeypatch):
    # an entry within atol, whose relative error alone would read "wrong": it passed, so not "wrong"
    monkeypatch.setattr(_Cube, "factor", 1.5)
    x = npgpt.tensor(np.array([5e-3, 1.0]), requires_grad=True)  # dy/dx = 7.5e-5 at the first entry
    report = npgpt.gradcheck(lambda a: _Cube.apply(a) * np.array([1.0, 0.0]), [x], atol=1e-5)
    assert report.ok and report.max_rel_err > 1e-2 and report.verdict == "acceptable", report
    # the same entry with the default atol fails, and is "wrong" however small its absolute error
    report = npgpt.gradcheck(lambda a: _Cube.apply(a) * np.array([1.0, 0.0]), [x])
    assert not report.ok and report.verdict == "wrong" and report.inputs[0].verdict == "wrong", report
    assert str(report).splitlines()[-1].startswith("gradcheck FAILED (|analytic - numeric| <= atol + rtol")


# ----------------------------------------------------------------------- float32 by value
def _grads(case, arrays, u):
    inputs = [npgpt.Tensor(a, requires_grad=True) for a in arrays]
    case.fn(*inputs).backward(u.astype(arrays[0].dtype))
    return [t.grad for t in inputs]


@pytest.mark.parametrize("op, case", op_cases())
def test_float32_gradients_equal_float64_ones(op, case):
    """Same inputs (the float32 values, upcast), same upstream gradient: float32 error only."""
    a32 = make_inputs(case, dtype=np.float32)
    a64 = [a.astype(np.float64) for a in a32]
    out_shape = case.fn(*[npgpt.Tensor(a) for a in a64]).shape
    u = np.random.default_rng(1).standard_normal(out_shape)
    for k, (g32, g64) in enumerate(zip(_grads(case, a32, u), _grads(case, a64, u))):
        assert g32.dtype == np.float32
        scale = max(float(np.abs(g64).max(initial=0.0)), 1.0)
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * scale, err_msg=f"{op.__name__} {case.name} #{k}")
