"""The meta-test machinery itself: what counts as a grader catching a planted bug."""

import numpy as np
import pytest

import npgpt
from lessons.grading import assert_gradcheck, backward, outcomes
from npgpt.autograd import Function


def _recursive_plant(x):
    return _recursive_plant(x)  # calls itself forever, as a plant that calls its patched name does


def _wrong_plant(x):
    return x + 1


def _grader(impl):
    assert impl(1) == 1, "f(1) must be 1"


def test_a_failed_assertion_is_caught_and_a_crashing_plant_is_broken():
    assert outcomes(_grader, plant=_wrong_plant, impl=_wrong_plant)["caught"]
    found = outcomes(_grader, plant=_recursive_plant, impl=_recursive_plant)
    assert not found["caught"] and "RecursionError" in found["broken"][0]
    found = outcomes(lambda impl: pytest.fail("no"), impl=None)
    assert found["caught"] and not found["broken"]
    found = outcomes(lambda impl: impl(), impl=lambda: np.linalg.inv(np.zeros((2, 2))))
    assert found["errors"] and not found["caught"]  # an error is not a failed check


class _WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum(axis=0)

    @staticmethod
    def backward(ctx, g):
        return (g,)  # shape of the output, not of the input: npgpt refuses it


def test_npgpt_refusing_a_gradient_is_a_failed_check():
    x = npgpt.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(pytest.fail.Exception, match="npgpt refused the gradient"):
        backward(_WrongShape.apply(x), np.ones(3), what="sum")
    with pytest.raises(pytest.fail.Exception, match="npgpt refused the gradient"):
        assert_gradcheck(_WrongShape.apply, [x], what="sum")
    with pytest.raises(ValueError):  # an error of the code under test itself propagates
        assert_gradcheck(lambda a: a.reshape(5), [x])
