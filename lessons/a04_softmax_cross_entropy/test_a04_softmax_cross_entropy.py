"""Grader of assignment 4: 4.1 the stable softmax and log-softmax forwards, 4.2 softmax backward,
4.3 log-softmax backward, 4.4 cross-entropy backward (with ignore_index).

    python -m lessons.grade --assignment a04        # points per task
    pytest lessons/a04_softmax_cross_entropy --task 4.4

The forwards are compared with the instructor's log-softmax, built on NumPy's ``logaddexp`` (which
your code may not call), on logits chosen to overflow or underflow a naive formula. Each backward is
called directly on saved values from that reference (``call_backward``), so it is graded even when
4.1 is not done, and compared with central finite differences, in float64, of the reference forward.
The forwards are task 4.1: a handout's grader reads their values, and those differences, on the
public cases from ``expected.npz`` (``lessons.expected``).
"""

import numpy as np
import pytest

import npgpt
from lessons.expected import Expected
from lessons.grading import assert_close, call_backward
from npgpt.ops.chat_losses import TokenLogprobs
from npgpt.ops.softmax import CrossEntropy, LogSoftmax, Softmax

expected = Expected(__file__)


def reference(name, *args):
    """What the instructor's log-softmax (NumPy's ``logaddexp``, which your code may not call) gives,
    or the central differences in float64 of a forward built on it (``name`` ends in ``_vjp``)."""
    return expected(f"{name}_reference", *args)


# ----------------------------------------------------------------------------- 4.1 the forwards
LOGITS = [
    ("moderate", np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -2.0]]), -1),
    ("huge", np.array([[1000.0, 1001.0, 1002.0], [-5.0, 800.0, 799.0]]), -1),  # exp overflows
    ("very negative", np.array([[-1000.0, -1001.0], [-800.0, -2000.0]]), -1),  # exp underflows to 0
    ("rows of very different scale", np.array([[1000.0, 1001.0], [-1000.0, -999.0]]), -1),
    ("axis 0", np.array([[710.0, 1.0], [709.0, -3.0], [0.0, 2.0]]), 0),
    ("a middle axis", np.array([[[900.0, 1.0], [901.0, -2.0]], [[-3.0, -700.0], [0.0, -701.0]]]), 1),
    ("one class", np.array([[1000.0], [-3.0]]), -1),
]
LOGIT_IDS = [c[0] for c in LOGITS]


@pytest.mark.task("4.1", points=1.5)
@pytest.mark.parametrize("name, x, axis", LOGITS, ids=LOGIT_IDS)
def test_softmax_forward_is_stable(name, x, axis):
    y = Softmax.apply(npgpt.tensor(x), axis=axis).numpy()
    assert np.all(np.isfinite(y)), f"softmax of {name} logits is not finite: {y}"
    assert_close(y, reference("softmax", x, axis), f"softmax ({name}, axis={axis})", rtol=1e-10, atol=1e-14)


@pytest.mark.task("4.1", points=1)
@pytest.mark.parametrize("name, x, axis", LOGITS, ids=LOGIT_IDS)
def test_log_softmax_forward_is_stable(name, x, axis):
    y = LogSoftmax.apply(npgpt.tensor(x), axis=axis).numpy()
    assert np.all(np.isfinite(y)), f"log-softmax of {name} logits is not finite: {y}"
    assert_close(y, reference("log_softmax", x, axis), f"log-softmax ({name}, axis={axis})", rtol=1e-12, atol=1e-12)


@pytest.mark.task("4.1", points=0.5)
def test_token_logprobs_forward_is_stable():
    z = np.array([[[1000.0, 1001.0, -5.0], [0.0, -800.0, 5.0]], [[-1000.0, -999.0, -1002.0], [3.0, 2.0, 1.0]]])
    t = np.array([[0, 1], [2, -100]])
    y = TokenLogprobs.apply(npgpt.tensor(z), targets=t).numpy()
    assert np.all(np.isfinite(y)), f"TokenLogprobs of huge and tiny logits is not finite: {y}"
    assert_close(y, reference("token_logprobs", z, t, -100), "TokenLogprobs forward (log p of each target)")


@pytest.mark.task("4.1", points=1)  # whole points per task (Gradescope): 4.1 is worth 4
def test_forwards_keep_float32():
    x = np.array([[100.0, 101.0, 99.0], [-50.0, 0.0, 3.0]], dtype=np.float32)
    y = Softmax.apply(npgpt.tensor(x), axis=-1).numpy()
    ly = LogSoftmax.apply(npgpt.tensor(x), axis=-1).numpy()
    assert y.dtype == ly.dtype == np.float32, f"outputs must stay float32, got {y.dtype} and {ly.dtype}"
    x64 = x.astype(np.float64)
    assert_close(y, reference("softmax", x64, -1).astype(np.float32), "float32 softmax", rtol=1e-5, atol=1e-7)
    assert_close(ly, reference("log_softmax", x64, -1).astype(np.float32), "float32 log-softmax", rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- 4.2 and 4.3 the backwards
# (shape, axis): rows along the last axis, along a middle one, along the first, one vector, one class
SHAPES = [((3, 5), -1), ((2, 3, 4), 1), ((2, 3, 4), 0), ((6,), 0), ((4, 1), -1)]
SHAPE_IDS = [f"{s} axis={a}" for s, a in SHAPES]


def logits_and_g(shape, seed):
    rng = np.random.default_rng(seed)
    return 2 * rng.standard_normal(shape), rng.standard_normal(shape)


@pytest.mark.task("4.2", points=2.5)
@pytest.mark.parametrize("shape, axis", SHAPES, ids=SHAPE_IDS)
def test_softmax_backward(shape, axis):
    x, g = logits_and_g(shape, 1)
    (dx,) = call_backward(Softmax, (reference("softmax", x, axis),), g, (True,), axis=axis)
    assert_close(
        dx, reference("softmax_vjp", x, g, axis), f"Softmax backward, x {shape}, axis={axis}", rtol=1e-6, atol=1e-9
    )


@pytest.mark.task("4.3", points=1.5)
@pytest.mark.parametrize("shape, axis", SHAPES, ids=SHAPE_IDS)
def test_log_softmax_backward(shape, axis):
    x, g = logits_and_g(shape, 2)
    (dx,) = call_backward(LogSoftmax, (reference("log_softmax", x, axis),), g, (True,), axis=axis)
    assert_close(
        dx,
        reference("log_softmax_vjp", x, g, axis),
        f"LogSoftmax backward, x {shape}, axis={axis}",
        rtol=1e-6,
        atol=1e-9,
    )


def float32_backward(op, saved_from):
    x, g = (v.astype(np.float32) for v in logits_and_g((3, 4), 3))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    (dx,) = call_backward(op, (reference(saved_from, x64, -1).astype(np.float32),), g, (True,), axis=-1)
    assert dx.dtype == np.float32, f"{op.__name__} backward must keep float32, got {dx.dtype}"
    want = reference(f"{saved_from}_vjp", x64, g64, -1).astype(np.float32)
    assert_close(dx, want, f"{op.__name__} backward in float32", rtol=1e-4, atol=1e-5)


@pytest.mark.task("4.2", points=0.5)
def test_softmax_backward_keeps_float32():
    float32_backward(Softmax, "softmax")


@pytest.mark.task("4.3", points=0.5)
def test_log_softmax_backward_keeps_float32():
    float32_backward(LogSoftmax, "log_softmax")


# ----------------------------------------------------------------------------- 4.4 cross-entropy
# (name, logits shape, targets, ignore_index)
CE = [
    ("rows", (3, 5), [0, 4, 2], -100),
    ("batch of sequences", (2, 4, 5), [[1, 3, 0, 0], [2, 2, 4, 1]], -100),
    ("ignored rows", (2, 4, 5), [[1, 3, -100, 0], [2, -100, 4, -100]], -100),
    ("ignore_index=3", (4, 6), [3, 5, 0, 3], 3),
    ("one row", (1, 7), [6], -100),
]


def cross_entropy_backward(z, targets, ignore_index, g):
    """CrossEntropy.backward on what its forward saves, computed here: p (N, C), t (N,), valid (N,), n."""
    t = np.asarray(targets).reshape(-1)
    valid = t != ignore_index
    saved = (
        reference("softmax", z.reshape(-1, z.shape[-1]), -1).astype(z.dtype),
        np.where(valid, t, 0),
        valid,
        valid.sum(),
    )
    return call_backward(CrossEntropy, saved, np.asarray(g, dtype=z.dtype), (True,), shape=z.shape)[0]


@pytest.mark.task("4.4", points=3)
@pytest.mark.parametrize("name, shape, targets, ignore_index", CE, ids=[c[0] for c in CE])
def test_cross_entropy_backward(name, shape, targets, ignore_index):
    z = 2 * np.random.default_rng(4).standard_normal(shape)
    g = np.asarray(2.5)  # an upstream gradient other than 1
    dz = cross_entropy_backward(z, targets, ignore_index, g)
    assert_close(
        dz,
        reference("cross_entropy_vjp", z, targets, ignore_index, g),
        f"CrossEntropy backward ({name}), g = 2.5",
        rtol=1e-6,
        atol=1e-9,
    )


@pytest.mark.task("4.4", points=0.5)
def test_ignored_rows_get_nothing_and_counted_rows_sum_to_zero():
    z = np.random.default_rng(5).standard_normal((4, 6))
    t = np.array([1, -100, 5, -100])
    dz = cross_entropy_backward(z, t, -100, 1.0)
    assert np.asarray(dz).shape == (4, 6), f"shape {np.asarray(dz).shape}, expected the logits' (4, 6)"
    assert np.all(dz[t == -100] == 0), f"ignored rows must get exactly zero gradient, got {dz[t == -100]}"
    np.testing.assert_allclose(dz.sum(axis=-1), 0.0, atol=1e-15, err_msg="each row's gradient sums to 0")


@pytest.mark.task("4.4", points=0.5)
def test_cross_entropy_backward_keeps_float32():
    z = np.random.default_rng(6).standard_normal((3, 4))
    t = [0, 3, -100]
    dz = cross_entropy_backward(z.astype(np.float32), t, -100, 1.0)
    assert dz.dtype == np.float32, f"CrossEntropy backward must keep float32, got {dz.dtype}"
    want = reference("cross_entropy_vjp", z, t, -100, np.asarray(1.0))
    assert_close(dz, want.astype(np.float32), "CrossEntropy backward in float32", rtol=1e-4, atol=1e-6)


@pytest.mark.task("4.4", points=1)
@pytest.mark.parametrize("shape, targets", [((3, 5), [0, 4, -100]), ((2, 3, 4), [[1, -100, 3], [0, 0, 2]])], ids=str)
def test_token_logprobs_backward(shape, targets):
    rng = np.random.default_rng(7)
    z = 2 * rng.standard_normal(shape)
    t = np.asarray(targets)
    g = rng.standard_normal(t.shape)  # one upstream gradient per position
    valid = t != -100
    saved = (reference("log_softmax", z, -1), np.where(valid, t, 0), valid)
    (dz,) = call_backward(TokenLogprobs, saved, g, (True,))
    assert_close(
        dz,
        reference("token_logprobs_vjp", z, t, -100, g),
        f"TokenLogprobs backward, logits {shape}",
        rtol=1e-6,
        atol=1e-9,
    )
