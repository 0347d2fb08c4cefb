"""Grader of assignment 4 (softmax, log-softmax, cross-entropy).

    pytest lessons/a04_softmax_cross_entropy --lesson-impl=exercises

Gradients are checked with ``npgpt.gradcheck`` (float64 central differences, random upstream
gradient); forwards and gradients are also compared with npgpt's own ops (``npgpt.functional``).
"""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from lessons.grading import assert_close, assert_gradcheck, backward, t64

# (shape, axis): rows along the last axis, along a middle one, a single vector, a single class
SHAPES = [((3, 5), -1), ((2, 3, 4), 1), ((2, 3, 4), 0), ((6,), 0), ((4, 1), -1)]
SHAPE_IDS = [f"{s} axis={a}" for s, a in SHAPES]


def _ref_logsumexp(x, axis):
    # npgpt's log_softmax gives y = x - logsumexp(x): any entry of x - y is the logsumexp
    t = npgpt.tensor(x)
    return np.take(x - F.log_softmax(t, axis=axis).numpy(), [0], axis=axis)


LSE = [
    ("moderate", np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -2.0]]), -1),
    ("huge", np.array([[1000.0, 1001.0, 1002.0], [-5.0, 800.0, 799.0]]), -1),  # exp overflows
    ("very negative", np.array([[-1000.0, -1001.0], [-800.0, -2000.0]]), -1),  # exp underflows to 0
    ("axis 0", np.array([[710.0, 1.0], [709.0, -3.0], [0.0, 2.0]]), 0),
]


@pytest.mark.parametrize("name, x, axis", LSE, ids=[c[0] for c in LSE])
def test_logsumexp_is_stable(impl, name, x, axis):
    got = np.asarray(impl.logsumexp(x.copy(), axis=axis))
    assert np.all(np.isfinite(got)), f"logsumexp of {name} logits is not finite: {got} (subtract the max first)"
    assert_close(got, _ref_logsumexp(x, axis), f"logsumexp ({name}), keepdims=True", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, axis", SHAPES, ids=SHAPE_IDS)
def test_softmax_gradcheck(impl, shape, axis):
    assert_gradcheck(
        lambda x: impl.Softmax.apply(x, axis=axis), [t64(shape, 1, name="x")], what=f"Softmax {shape} axis={axis}"
    )


@pytest.mark.parametrize("shape, axis", SHAPES, ids=SHAPE_IDS)
def test_log_softmax_gradcheck(impl, shape, axis):
    assert_gradcheck(
        lambda x: impl.LogSoftmax.apply(x, axis=axis), [t64(shape, 2, name="x")], what=f"LogSoftmax {shape} axis={axis}"
    )


@pytest.mark.parametrize("op, ref", [("Softmax", F.softmax), ("LogSoftmax", F.log_softmax)])
def test_matches_npgpt_on_huge_logits(impl, op, ref):
    # forward and backward stay finite and equal npgpt's where the naive formula overflows
    x = np.array([[1000.0, 1001.0, 1002.0, 990.0], [-700.0, 5.0, 800.0, 801.0]])
    mine, theirs = npgpt.tensor(x, requires_grad=True), npgpt.tensor(x, requires_grad=True)
    out = getattr(impl, op).apply(mine, axis=-1)
    g = np.random.default_rng(3).standard_normal(x.shape)
    out.backward(g)
    ref(theirs, axis=-1).backward(g)
    assert_close(out.numpy(), ref(npgpt.tensor(x), axis=-1).numpy(), f"{op} forward on huge logits")
    assert_close(mine.grad, theirs.grad, f"{op} backward on huge logits")


# (logits shape, targets, ignore_index)
CE = [
    ("rows", (3, 5), [0, 4, 2], -100),
    ("batch of sequences", (2, 4, 5), [[1, 3, 0, 0], [2, 2, 4, 1]], -100),
    ("ignored rows", (2, 4, 5), [[1, 3, -100, 0], [2, -100, 4, -100]], -100),
    ("ignore_index=3", (4, 6), [3, 5, 0, 3], 3),
    ("one row", (1, 7), [6], -100),
]
CE_IDS = [c[0] for c in CE]


def _ce(impl, logits, targets, ignore_index):
    return impl.CrossEntropy.apply(logits, targets=np.asarray(targets), ignore_index=ignore_index)


@pytest.mark.parametrize("name, shape, targets, ignore_index", CE, ids=CE_IDS)
def test_cross_entropy_gradcheck(impl, name, shape, targets, ignore_index):
    assert_gradcheck(
        lambda z: _ce(impl, z, targets, ignore_index), [t64(shape, 4, name="logits")], what=f"CrossEntropy ({name})"
    )


@pytest.mark.parametrize("name, shape, targets, ignore_index", CE, ids=CE_IDS)
def test_cross_entropy_matches_npgpt(impl, name, shape, targets, ignore_index):
    mine, theirs = t64(shape, 5), t64(shape, 5)
    loss = _ce(impl, mine, targets, ignore_index)
    ref = F.cross_entropy(theirs, np.asarray(targets), ignore_index=ignore_index)
    loss.backward(np.asarray(2.5))  # an upstream gradient other than 1
    ref.backward(np.asarray(2.5))
    assert_close(loss.numpy(), ref.numpy(), f"CrossEntropy loss ({name})")
    assert_close(mine.grad, theirs.grad, f"CrossEntropy gradient ({name})")


def test_cross_entropy_gradient_is_p_minus_y(impl):
    z = t64((4, 6), 6)
    t = np.array([1, -100, 5, 0])
    _ce(impl, z, t, -100).backward()
    p = F.softmax(z.detach(), axis=-1).numpy()
    keep = t != -100
    expected = np.zeros_like(p)
    expected[keep] = (p[keep] - np.eye(6)[t[keep]]) / keep.sum()
    assert_close(z.grad, expected, "dL/dlogits = (p - onehot(t)) / n on counted rows, 0 on ignored rows")
    np.testing.assert_allclose(z.grad.sum(axis=-1), 0.0, atol=1e-15, err_msg="each row of p - y sums to 0")


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "CrossEntropy"])
def test_float32_gradients_stay_float32(impl, op):
    # npgpt refuses a gradient whose dtype differs from its input's: no silent float64 upcasts
    x = npgpt.tensor(np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    out = _ce(impl, x, [0, 3, -100], -100) if op == "CrossEntropy" else getattr(impl, op).apply(x, axis=-1)
    backward(out, np.ones(out.shape, dtype=np.float32), what=f"float32 {op}")
    assert x.grad.dtype == np.float32
