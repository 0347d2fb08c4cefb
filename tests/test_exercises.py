"""npgpt.exercises: the checks behind the notebooks' "your turn" cells accept the reference answer
and reject a planted mistake with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import npgpt
from npgpt.autograd import Function
from npgpt.exercises import ExerciseError, check, check_array, check_gradient


def test_check_array_accepts_the_answer_and_names_the_first_wrong_entry(capsys):
    mask = np.tril(np.ones((4, 4), dtype=bool))
    check_array("mask", mask, mask)
    assert "correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"mask: 6 of 16 entries differ; first at \(0, 1\)"):
        check_array("mask", np.ones((4, 4), dtype=bool), mask)
    with pytest.raises(ExerciseError, match=r"shape \(3, 4\), expected \(4, 4\)"):
        check_array("mask", mask[:3], mask)
    with pytest.raises(ExerciseError, match=r"worst at \(1,\): got 2.5, expected 2"):
        check_array("y", [1.0, 2.5], [1.0, 2.0])
    with pytest.raises(ExerciseError, match="entries are off"):
        check_array("y", [np.nan, 2.0], [1.0, 2.0])
    # masked logits: equal infinities match, a finite value where -inf belongs does not
    check_array("z", [-np.inf, 1.0], [-np.inf, 1.0])
    with pytest.raises(ExerciseError, match=r"1 of 2 entries are off; worst at \(0,\): got 0, expected -inf"):
        check_array("z", [0.0, 1.0], [-np.inf, 1.0])


class _Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * 2 * x,)


class _SquareWrong(_Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)  # the factor 2 forgotten


def test_check_gradient_catches_a_wrong_backward(capsys):
    x = npgpt.tensor(np.random.default_rng(0).standard_normal((3,)), requires_grad=True, dtype=np.float64)
    check_gradient("square", _Square.apply, [x])
    assert "matches finite differences" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"square: the gradient is wrong for input .*\(3,\): worst at"):
        check_gradient("square", _SquareWrong.apply, [x])


def test_check_explains_itself():
    check(True, "unused")
    with pytest.raises(ExerciseError, match="temperature 0 must pick the argmax"):
        check(False, "temperature 0 must pick the argmax")
