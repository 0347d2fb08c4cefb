"""``npgpt.gradcheck`` itself: its report, its verdicts, its guards, and what it leaves behind."""

import math

import numpy as np
import pytest
from planted_ops import OffByOneEntry, SquareMissingTwo

import npgpt
from npgpt.gradcheck import VERDICTS, verdict


def t64(shape, seed=0, name=None):
    t = npgpt.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
    t.name = name
    return t


def test_report_table_columns_and_rows():
    x, w = t64((3, 4), 0, name="x"), t64((4,), 1)
    report = npgpt.gradcheck(lambda a, b: (a * b).tanh(), [x, w])
    text = str(report)
    header, rule, row_x, row_w, last = text.splitlines()
    for col in (
        "input",
        "shape",
        "checked",
        "max abs err",
        "max rel err",
        "worst index",
        "analytic",
        "numeric",
        "verdict",
    ):
        assert col in header
    assert set(rule) == {"-"}
    assert row_x.startswith("x ") and "(3, 4)" in row_x and row_x.endswith("good") and " 12 " in row_x
    assert row_w.startswith("input 1") and "(4,)" in row_w
    assert last == "gradcheck passed (|analytic - numeric| <= atol + rtol * |numeric|, atol=1e-07, rtol=1e-06)"
    assert repr(report) == text
    assert report.ok and bool(report) and report.verdict == "good"
    r = report.inputs[0]
    assert (r.name, r.shape, r.checked) == ("x", (3, 4), 12)
    assert 0 <= r.max_abs_err < 1e-8 and 0 <= r.max_rel_err < 1e-7 and len(r.worst_index) == 2
    assert report.max_rel_err == max(i.max_rel_err for i in report.inputs)


def test_report_points_at_the_wrong_entry():
    x = t64((3, 4))
    report = npgpt.gradcheck(OffByOneEntry.apply, [x])
    r = report.inputs[0]
    assert not report.ok and not bool(report) and report.verdict == "wrong" and r.verdict == "wrong"
    assert r.worst_index == OffByOneEntry.BAD
    assert r.numeric == pytest.approx(3 * _upstream(x.shape)[OffByOneEntry.BAD], rel=1e-8)
    assert r.analytic == pytest.approx(1.5 * r.numeric, rel=1e-8)
    assert r.max_rel_err == pytest.approx(0.5 / 1.5, rel=1e-6)
    assert str(report).splitlines()[-1].startswith("gradcheck FAILED")
    with pytest.raises(AssertionError, match=r"(?s)gradcheck failed:\n.*wrong"):
        npgpt.gradcheck(OffByOneEntry.apply, [x], raise_on_fail=True)


def _upstream(shape, seed=0):
    """The random upstream gradient gradcheck draws first from its seed."""
    return np.random.default_rng(seed).standard_normal(shape)


def test_verdict_thresholds():
    assert [b for b, _ in VERDICTS][:3] == [1e-7, 1e-4, 1e-2]
    cases = {
        0.0: "good",
        1e-9: "good",
        1e-7: "good",
        2e-7: "acceptable",
        1e-4: "acceptable",
        5e-4: "suspicious",
        1e-2: "suspicious",
        0.011: "wrong",
        1.0: "wrong",
        math.inf: "wrong",
        math.nan: "wrong",
    }
    for err, word in cases.items():
        assert verdict(err) == word, err


@pytest.mark.parametrize(
    "err, word, ok", [(1e-6, "acceptable", True), (3e-3, "suspicious", False), (0.5, "wrong", False)]
)
def test_small_errors_get_graded_verdicts(monkeypatch, err, word, ok):
    monkeypatch.setattr(OffByOneEntry, "err", err)
    report = npgpt.gradcheck(OffByOneEntry.apply, [t64((3, 4))])
    assert report.ok is ok
    # a failing input is "wrong" overall even when its relative error alone reads "suspicious"
    assert report.inputs[0].verdict == (word if ok or word == "wrong" else "wrong")
    assert report.verdict == (word if ok else "wrong")


def test_float32_refused_unless_allowed():
    x = npgpt.tensor(np.linspace(-1, 1, 6, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float32; finite differences need float64"):
        npgpt.gradcheck(lambda a: a * 3, [x])
    with pytest.raises(TypeError, match="float64"):
        npgpt.gradcheck(lambda a, b: a * b, [t64((6,))], params=[x])
    report = npgpt.gradcheck(lambda a: a * a, [x], allow_float32=True, eps=1e-2, atol=1e-2, rtol=1e-2)
    assert report.ok, report


def test_max_samples_checks_a_random_subset():
    x = t64((10, 10))
    full = npgpt.gradcheck(lambda a: a.exp(), [x])
    part = npgpt.gradcheck(lambda a: a.exp(), [x], max_samples=7)
    again = npgpt.gradcheck(lambda a: a.exp(), [x], max_samples=7)
    assert full.inputs[0].checked == 100 and part.inputs[0].checked == 7
    assert part.inputs[0].worst_index == again.inputs[0].worst_index  # seeded: reproducible
    assert npgpt.gradcheck(lambda a: a.exp(), [t64((2, 3))], max_samples=50).inputs[0].checked == 6
    # a subset still catches a backward that is wrong everywhere
    assert not npgpt.gradcheck(SquareMissingTwo.apply, [x], max_samples=5).ok


def test_grads_and_data_restored_afterwards():
    x, w = t64((3, 4), 0), t64((4,), 1)
    before = x.data.copy()
    x.grad = np.full((3, 4), 7.0)
    keep = x.grad
    assert w.grad is None
    npgpt.gradcheck(lambda a, b: a * b, [x, w])
    assert x.grad is keep and np.all(keep == 7.0)
    assert w.grad is None
    np.testing.assert_array_equal(x.data, before)  # every perturbation was undone


def test_non_contiguous_input_is_checked():
    x = npgpt.tensor(np.random.default_rng(0).standard_normal((4, 3)).T, requires_grad=True)
    assert not x.data.flags.c_contiguous
    before = x.numpy().copy()
    assert npgpt.gradcheck(lambda a: a.exp() @ np.ones((4, 2)), [x]).ok
    np.testing.assert_array_equal(x.numpy(), before)


def test_params_constants_and_non_tensor_inputs():
    x = npgpt.tensor(np.random.default_rng(0).standard_normal((3, 4)))  # constant: not checked
    w = t64((2, 4), 1, name="weight")
    ids = np.array([0, 2, 1])  # passed through to fn untouched
    report = npgpt.gradcheck(lambda a, i: (a @ w.T)[i], [x, ids], params=[w])
    assert [r.name for r in report.inputs] == ["weight"] and report.ok
    report = npgpt.gradcheck(lambda a: (a @ w.T).tanh(), [t64((3, 4), 2)], params=[w])
    assert [r.name for r in report.inputs] == ["input 0", "weight"] and report.ok


def test_unused_input_gets_zero_gradient_and_passes():
    x, unused = t64((3,), 0), t64((2,), 1)
    report = npgpt.gradcheck(lambda a, b: a * 2, [x, unused])
    assert report.ok and report.inputs[1].max_abs_err == 0.0


def test_zero_d_input():
    report = npgpt.gradcheck(lambda a: a.exp() * a, [t64(())])
    assert report.ok and report.inputs[0].shape == () and report.inputs[0].worst_index == ()
