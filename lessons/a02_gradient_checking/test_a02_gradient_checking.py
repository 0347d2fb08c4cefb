"""Grader of assignment 2 (gradient checking): 2.1 numerical_gradient, 2.2 relative_error,
2.3 verdict, 2.4 check_gradients.

    python -m lessons.grade --assignment a02        # points per task
    pytest lessons/a02_gradient_checking --task 2.4 # one task, pytest's report

Each task is graded on its own. ``numerical_gradient`` is compared with exact gradients of
functions whose derivative is known; ``relative_error`` and ``verdict`` with values worked out
here. ``check_gradients`` runs with the grader's own pieces swapped in for yours (``GradersPieces``:
the exact gradients of ops defined below in plain NumPy, and the relative errors the instructor's
reference gives for them, recorded), on correct ops and ones with a planted bug.
"""

import math

import numpy as np
import pytest

import npgpt
from lessons.a02_gradient_checking import checker
from lessons.expected import Expected
from npgpt.autograd import Function, no_grad

expected = Expected(__file__)


def tensor(shape, seed, requires_grad=True):
    return npgpt.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


# ------------------------------------------------------------------------ 2.1 numerical_gradient
_A = np.random.default_rng(5).standard_normal((12, 12))

# f(x) -> float with its exact gradient
KNOWN = {
    "cube": (lambda x: float((x**3).sum()), lambda x: 3 * x**2),
    "sin": (lambda x: float(np.sin(x).sum()), lambda x: np.cos(x)),
    "quadratic-form": (
        lambda x: float(x.reshape(-1) @ _A @ x.reshape(-1)),
        lambda x: ((_A + _A.T) @ x.reshape(-1)).reshape(x.shape),
    ),
    "logsumexp": (lambda x: float(np.log(np.exp(x).sum())), lambda x: np.exp(x) / np.exp(x).sum()),
}


@pytest.mark.task("2.1", points=2)
@pytest.mark.parametrize("shape", [(12,), (3, 4), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("name", list(KNOWN))
def test_numerical_gradient_of_known_functions(name, shape):
    f, grad = KNOWN[name]
    x = np.random.default_rng(1).standard_normal(shape)
    got = checker.numerical_gradient(f, x)
    assert isinstance(got, np.ndarray) and got.shape == x.shape, f"expected an array of shape {x.shape}, got {got!r}"
    np.testing.assert_allclose(got, grad(x), rtol=1e-6, atol=1e-8, err_msg=f"numerical gradient of {name}")


@pytest.mark.task("2.1", points=1)
def test_numerical_gradient_of_a_0d_array():
    x = np.array(0.3)
    got = checker.numerical_gradient(lambda v: float(np.sin(v)), x)
    assert np.shape(got) == (), f"a 0-d input has a 0-d gradient, got shape {np.shape(got)}"
    assert math.isclose(float(got), math.cos(0.3), rel_tol=1e-8), f"d sin(x)/dx at 0.3: {float(got)}"


@pytest.mark.task("2.1", points=1)
def test_numerical_gradient_is_central():
    # with a large step a one-sided difference is off by ~ (eps / 2) f'' = 3 x eps ~ 3e-3,
    # the central one by (eps^2 / 6) f''' = 1e-6
    x = np.linspace(0.5, 1.5, 5)
    got = checker.numerical_gradient(lambda v: float((v**3).sum()), x, eps=1e-3)
    np.testing.assert_allclose(got, 3 * x**2, atol=2e-6, err_msg="the derivative of x^3 with a step of 1e-3")


@pytest.mark.task("2.1", points=1)
def test_numerical_gradient_restores_and_perturbs_the_array_it_was_given():
    x = np.random.default_rng(1).standard_normal((3, 4))
    before = x.copy()
    for eps in (0.1, 0.3):  # large steps, for which (x - eps) + eps != x in several entries
        checker.numerical_gradient(lambda v: float((v**2).sum()), x, eps=eps)
        assert np.array_equal(x, before), (
            f"x must be exactly as it was after a check with eps={eps} (put back the saved value)"
        )
    # f reads x through a closure, the way check_gradients' loss reads a tensor's data
    y = np.random.default_rng(3).standard_normal(5)
    got = checker.numerical_gradient(lambda _: float((y**2).sum()), y)
    np.testing.assert_allclose(got, 2 * y, rtol=1e-6, err_msg="f reads x itself: perturb x in place, not a copy")


# ------------------------------------------------------------------------ 2.2 relative_error
REL_CASES = {
    "equal": ([1.0, -2.0], [1.0, -2.0], 0.0),
    "tiny-difference": ([1.0, 2.0], [1.0 + 1e-9, 2.0], 1e-9 / (1 + 1e-9)),
    "opposite-signs": ([1.0], [-1.0], 2.0),
    "one-zero": ([0.0, 3.0], [0.5, 3.0], 1.0),
    "below-floor": ([1e-9, 5.0], [3e-9, 5.0], 0.0),  # would be 0.67 without the floor
    "largest-not-mean": ([1.0, 1.0, 1.0, 4.0], [1.0, 1.0, 1.0, 5.0], 0.2),
    "mixed-2d": (np.arange(6.0).reshape(2, 3) - 2.5, (np.arange(6.0).reshape(2, 3) - 2.5) * (1 + 1e-4), None),
    "zeros": ([0.0, 0.0], [0.0, 0.0], 0.0),
    "empty": ([], [], 0.0),
}


@pytest.mark.task("2.2", points=2)
@pytest.mark.parametrize("name", list(REL_CASES))
def test_relative_error(name):
    a, n, want = REL_CASES[name]
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    want = expected("relative_error_by_hand", a, n) if want is None else want
    got = checker.relative_error(a, n)
    assert isinstance(got, float), f"return a Python float, got {type(got).__name__}"
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15), f"{name}: relative error {got}, expected {want}"
    back = checker.relative_error(n, a)
    assert math.isclose(back, got, rel_tol=1e-12, abs_tol=1e-15), f"{name}: not symmetric, {got} one way, {back} back"


@pytest.mark.task("2.2", points=1)
def test_relative_error_floor_is_an_argument_and_small_entries_still_count_above_it():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 5)) * np.logspace(-8, 1, 20).reshape(4, 5)
    n = a * (1 + 1e-3 * rng.standard_normal((4, 5)))
    for floor in (1e-6, 1e-3, 1.0):
        got = checker.relative_error(a, n, floor=floor)
        want = expected("relative_error_by_hand", a, n, floor)
        assert math.isclose(got, want, rel_tol=1e-9), f"floor={floor}: relative error {got}, expected {want}"


# ------------------------------------------------------------------------ 2.3 verdict
VERDICTS = {
    0.0: "good",
    1e-12: "good",
    1e-7: "good",
    1.5e-7: "acceptable",
    3e-5: "acceptable",
    1e-4: "acceptable",
    1.01e-4: "suspicious",
    5e-3: "suspicious",
    1e-2: "suspicious",
    0.0101: "wrong",
    0.5: "wrong",
    2.0: "wrong",
    float("inf"): "wrong",
    float("nan"): "wrong",
}


@pytest.mark.task("2.3", points=1)
@pytest.mark.parametrize("rel", list(VERDICTS))
def test_verdict(rel):
    got = checker.verdict(rel)
    assert got == VERDICTS[rel], f"verdict({rel}) is {got!r}, expected {VERDICTS[rel]!r}"


# ------------------------------------------------------------------------ 2.4 check_gradients
class GradersPieces:
    """While 2.4 is graded, ``numerical_gradient`` and ``relative_error`` are the grader's: neither
    computes a finite difference or the rule of 2.2, so neither is a task's answer.

    The numerical gradient is the exact one (``true(u, *arrays)``, the closed form of each op below),
    after the stand-in checks that the function it was given is sum(u * fn(*inputs)) at the inputs and
    reads the array it was given (one entry moved, then put back). The relative error is looked up:
    0 for the exact gradient, the recorded value for the gradient a planted bug's backward returns,
    and any other pair is refused, naming what check_gradients got wrong.
    """

    def __init__(self, fn, inputs, true, returned=None, want=None):
        self.fn, self.arrays = fn, [t.data.copy() for t in inputs]
        with no_grad():
            out_shape = fn(*inputs).shape
        self.u = np.random.default_rng(0).standard_normal(out_shape)  # the upstream gradient of the contract
        self.true = true(self.u, *self.arrays)
        self.returned = None if returned is None else returned(self.u, *self.arrays)
        self.want, self.given = want, {}

    def loss(self, arrays) -> float:
        with no_grad():
            return float((self.fn(*[npgpt.tensor(a) for a in arrays]).data * self.u).sum())

    def numerical_gradient(self, f, x, eps=1e-6):
        k = next((k for k, a in enumerate(self.arrays) if a.shape == x.shape and np.array_equal(a, x)), None)
        assert k is not None, f"check_gradients asked for the numerical gradient of an array {x.shape} that is no input"
        arrays = [a.copy() for a in self.arrays]
        got, want = f(x), self.loss(arrays)
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (
            f"input {k}: the function handed to numerical_gradient gives {got!r} at the inputs, "
            f"but the loss sum(u * fn(*inputs)) with the contract's u is {want!r}"
        )
        keep = x.flat[0].item()
        x.flat[0] = keep + 0.5
        arrays[k].flat[0] = keep + 0.5
        moved, want = f(x), self.loss(arrays)
        x.flat[0] = keep
        assert math.isclose(moved, want, rel_tol=1e-12, abs_tol=1e-12), (
            f"input {k}: the function handed to numerical_gradient does not follow the array it is given "
            f"(one entry moved by 0.5: {moved!r}, expected {want!r}); it must evaluate fn on the perturbed input"
        )
        grad = self.true[k].copy()
        self.given[id(grad)] = k
        return grad

    def relative_error(self, a, n, floor=1e-6):
        if id(a) in self.given and id(n) not in self.given:  # given the other way round: the error is symmetric
            a, n = n, a
        k = self.given.get(id(n))
        if k is None:  # a copy of what numerical_gradient returned
            k = next((k for k, t in enumerate(self.true) if t.shape == np.shape(n) and np.array_equal(t, n)), None)
        assert k is not None, "check_gradients handed relative_error no gradient that numerical_gradient returned"
        analytic = np.asarray(a, dtype=np.float64)
        if analytic.shape == self.true[k].shape and np.allclose(analytic, self.true[k], rtol=1e-12, atol=1e-14):
            return 0.0
        if self.returned is not None and np.allclose(analytic, self.returned[k], rtol=1e-12, atol=1e-14):
            return self.want[k]
        raise AssertionError(
            f"input {k}: check_gradients handed relative_error an analytic gradient that is not what backward "
            "gives for the upstream gradient u of the contract (was an old .grad counted? is u the contract's?)"
        )


@pytest.fixture
def graders_own_pieces(monkeypatch):
    """``install(fn, inputs, true, ...)``: check_gradients graded on its own, with the grader's pieces."""

    def install(fn, inputs, true, returned=None, want=None):
        pieces = GradersPieces(fn, inputs, true, returned, want)
        monkeypatch.setattr(checker, "numerical_gradient", pieces.numerical_gradient)
        monkeypatch.setattr(checker, "relative_error", pieces.relative_error)
        return pieces

    return install


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (2 * g * x,)


class Product(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), (g * a if ctx.needs_input_grad[1] else None)


class Damped(Function):
    """z = a / (1 + b^2), two inputs of one shape."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / (1 + b * b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        d = 1 + b * b
        return g / d, -2 * g * a * b / (d * d)


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * np.cos(x),)


def damped_grads(u, a, b):
    return [u / (1 + b * b), -2 * u * a * b / (1 + b * b) ** 2]


# op, its inputs, and the exact gradient of sum(u * op(*inputs)) with respect to each input
CORRECT = {
    "square": (Square.apply, lambda: [tensor((3, 4), 1)], lambda u, x: [2 * u * x]),
    "product": (Product.apply, lambda: [tensor((2, 3), 1), tensor((2, 3), 2)], lambda u, a, b: [u * b, u * a]),
    "damped": (Damped.apply, lambda: [tensor((2, 3), 1), tensor((2, 3), 2)], damped_grads),
    "sin": (Sin.apply, lambda: [tensor((2, 5), 3)], lambda u, x: [u * np.cos(x)]),
    "constant-input": (
        Product.apply,
        lambda: [tensor((3,), 8), tensor((3,), 9, requires_grad=False)],
        lambda u, a, b: [u * b, u * a],
    ),
    "unused-input": (
        lambda a, b: Square.apply(a),
        lambda: [tensor((2, 2), 10), tensor((3,), 11)],
        lambda u, a, b: [2 * u * a, np.zeros_like(b)],
    ),
}


@pytest.mark.task("2.4", points=2)
@pytest.mark.parametrize("name", list(CORRECT))
def test_check_gradients_passes_correct_ops(graders_own_pieces, name):
    fn, make, true = CORRECT[name]
    inputs = make()
    graders_own_pieces(fn, inputs, true)
    errs = checker.check_gradients(fn, inputs)
    n_checked = sum(t.requires_grad for t in inputs)
    assert len(errs) == n_checked, f"one relative error per input that requires grad ({n_checked}), got {errs}"
    for i, e in enumerate(errs):
        assert e < 1e-6, f"{name}: your check reports relative error {e:.2e} for input {i} of a correct op"


# ops with planted bugs (a correct forward), with the gradient backward returns and the true one
class SquareMissingTwo(Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * x,)


class ExpRightOnlyForOnes(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return (y * g.mean(),)


class DampedSwapped(Damped):
    """The two gradients of Damped returned in the wrong order (both of one shape, so nothing notices)."""

    @staticmethod
    def backward(ctx, g):
        return tuple(reversed(Damped.backward(ctx, g)))


BUGGY = {
    "square-missing-2": (
        SquareMissingTwo.apply,
        [(3, 4)],
        lambda u, x: [u * x],
        lambda u, x: [2 * u * x],
    ),
    "exp-right-only-for-ones": (
        ExpRightOnlyForOnes.apply,
        [(3, 4)],
        lambda u, x: [np.exp(x) * u.mean()],
        lambda u, x: [np.exp(x) * u],
    ),
    "damped-swapped": (
        DampedSwapped.apply,
        [(3, 3), (3, 3)],
        lambda u, a, b: damped_grads(u, a, b)[::-1],
        damped_grads,
    ),
}


@pytest.mark.task("2.4", points=1)
@pytest.mark.parametrize("name", list(BUGGY))
def test_check_gradients_measures_planted_bugs(graders_own_pieces, name):
    fn, shapes, returned, true = BUGGY[name]
    inputs = [tensor(s, seed=k + 1) for k, s in enumerate(shapes)]
    pieces = graders_own_pieces(fn, inputs, true, returned)
    pieces.want = want = [expected("relative_error_by_hand", r, t) for r, t in zip(pieces.returned, pieces.true)]
    errs = checker.check_gradients(fn, inputs)
    assert len(errs) == len(inputs), f"one relative error per input, got {errs}"
    assert max(errs) > 1e-2, f"{name}: your check reports {max(errs):.2e}, but this backward is wrong ({want})"
    for i, (mine, theirs) in enumerate(zip(errs, want)):
        assert math.isclose(mine, theirs, rel_tol=1e-4, abs_tol=1e-6), (
            f"{name}, input {i}: your relative error {mine:.6e}, expected {theirs:.6e} "
            "(with the upstream gradient u of the contract)"
        )


@pytest.mark.task("2.4", points=1)
def test_check_gradients_ignores_stale_grads_and_leaves_the_inputs_unchanged(graders_own_pieces):
    a, b = tensor((2, 3), 12), tensor((2, 3), 13)
    graders_own_pieces(Damped.apply, [a, b], damped_grads)
    before = [a.data.copy(), b.data.copy()]
    a.grad, b.grad = np.ones((2, 3)), np.full((2, 3), -2.0)  # left over from an earlier backward
    for attempt in (1, 2):
        errs = checker.check_gradients(Damped.apply, [a, b])
        assert max(errs) < 1e-6, f"check {attempt} of a correct op reports {errs}: were the old .grad values cleared?"
    assert all(np.array_equal(t.data, d) for t, d in zip((a, b), before)), "the inputs' data must end as they began"
