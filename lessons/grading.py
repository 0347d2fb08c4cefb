"""Helpers the assignment graders (``lessons/aNN_*/test_aNN_*.py``) share; handed out with them.

Each task is graded on its own: a grader computes a backward's inputs itself and calls it with
``call_backward``, and gets the expected gradient from ``lessons.finite_differences.numerical_vjp``
(central differences of a NumPy forward in float64), never from npgpt's gradcheck or another task's code. Where the rule or
the forward is itself a task, the expected value comes from the instructor's reference through
``lessons.expected`` (recorded for a handout), so no grader carries an answer.
"""

from __future__ import annotations

import numpy as np

from npgpt.autograd import Context


def assert_close(actual, expected, what, rtol=1e-10, atol=1e-12):
    """Same shape, then equal within ``atol + rtol * |expected|``; ``what`` names what was compared."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def call_backward(fn_cls, saved, g, needs_input_grad, **attrs):
    """``fn_cls.backward`` on values the grader computed itself (so a backward task is graded on
    its own, whatever the student's forward does): a context holding ``saved`` and ``attrs``."""
    ctx = Context()
    ctx.save_for_backward(*saved)
    ctx.needs_input_grad = tuple(needs_input_grad)
    for k, v in attrs.items():
        setattr(ctx, k, v)
    return fn_cls.backward(ctx, g)
