"""npgpt.exercises: the checks behind the notebooks' "your turn" cells accept the reference answer
and reject a planted mistake with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import npgpt
from npgpt.autograd import Function
from npgpt.backend import get_array_module
from npgpt.exercises import (
    ExerciseError,
    check,
    check_array,
    check_device_agnostic,
    check_gradient,
    check_power_law_fit,
)


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


def _one_hot_xp(ids, num_classes):
    xp = get_array_module(ids)
    return (ids[..., None] == xp.arange(num_classes)).astype(np.float32)  # a NumPy dtype is fine


def _one_hot_np(ids, num_classes):
    out = np.zeros(ids.shape + (num_classes,), dtype=np.float32)
    return out


def _norm_item(g):
    xp = get_array_module(g)
    return xp.sqrt((g * g).sum()).item()


def _norm_float(g):
    return float((g * g).sum()) ** 0.5


def _draw(shape):
    return np.random.default_rng(0).standard_normal(shape)


def _dict_get(d, g):
    return g * d.get("scale", 1.0)  # dict.get with a key is no host read


def _to_host(g):
    return g.get()


def _clip_with_if(g, max_norm):
    xp = get_array_module(g)
    n = xp.sqrt((g * g).sum())
    if n > max_norm:
        g *= max_norm / n
    return n


def _xp_is_numpy(ids, num_classes):
    xp = np  # looks like xp, is always NumPy
    return (ids[..., None] == xp.arange(num_classes)).astype(xp.float32)


def _imports_numpy(ids, num_classes):
    import numpy

    return numpy.eye(num_classes)[ids]


def _two_slips(a):
    b = a * 2
    return float(b.sum()) + np.exp(a)  # float(...) comes first on the line: it is reported first


def test_check_device_agnostic_accepts_xp_code_and_names_the_line_that_is_not(capsys):
    check_device_agnostic("one_hot", _one_hot_xp)
    check_device_agnostic("scaled", _dict_get)
    assert "takes its array module from its inputs" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"one_hot: line 2 `out = np.zeros\(.*` calls np.zeros, which makes NumPy"):
        check_device_agnostic("one_hot", _one_hot_np)
    with pytest.raises(ExerciseError, match=r"calls np.random.default_rng"):
        check_device_agnostic("draw", _draw)
    with pytest.raises(ExerciseError, match=r"line 3 .* calls .item\(\), which copies a device value to the host"):
        check_device_agnostic("norm", _norm_item)
    with pytest.raises(ExerciseError, match=r"calls float\(...\)"):
        check_device_agnostic("norm", _norm_float)
    with pytest.raises(ExerciseError, match=r"calls .get\(\)"):
        check_device_agnostic("to_host", _to_host)
    with pytest.raises(ExerciseError, match=r"line 3 .* calls float\(...\).* \(and 1 more such places\)"):
        check_device_agnostic("two", _two_slips)
    check_device_agnostic("clip", _clip_with_if)  # branches are allowed unless told otherwise
    with pytest.raises(ExerciseError, match=r"clip: line 4 `if n > max_norm:` branches on a value"):
        check_device_agnostic("clip", _clip_with_if, branches=False)
    with pytest.raises(ExerciseError, match=r"line 2 `xp = np  # looks like xp.*` uses NumPy itself as a value"):
        check_device_agnostic("one_hot", _xp_is_numpy)
    with pytest.raises(ExerciseError, match=r"line 2 `import numpy` imports NumPy"):
        check_device_agnostic("one_hot", _imports_numpy)
    with pytest.raises(ExerciseError, match="cannot read its source"):
        check_device_agnostic("builtin", len)


def _fit(n, loss):
    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
    return float(np.exp(intercept)), float(-slope)


def test_check_power_law_fit_accepts_a_log_log_line_and_rejects_near_misses(capsys):
    n = np.array([888.0, 3312, 7272, 12768])
    loss = np.array([2.64, 2.23, 2.14, 2.14])
    check_power_law_fit("fit", _fit, n, loss)
    assert "correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="exponent of n"):
        check_power_law_fit("fit", lambda n, y: (_fit(n, y)[0], -_fit(n, y)[1]))  # the sign kept
    with pytest.raises(ExerciseError, match="straight line in log loss"):
        check_power_law_fit("fit", lambda n, y: (1.0, -np.polyfit(np.log(n), y, 1)[0]))  # loss not logged
    with pytest.raises(ExerciseError, match="sweep's points"):  # right on exact laws, wrong elsewhere
        check_power_law_fit("fit", lambda n, y: _fit(n[[0, -1]], y[[0, -1]]), n, loss)
    with pytest.raises(ExerciseError, match="return"):
        check_power_law_fit("fit", lambda n, y: 0.3)
