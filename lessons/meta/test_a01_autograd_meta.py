"""Meta tests of assignment 1: the handout is unsolved, and its grader catches typical mistakes.

Each planted bug patches one piece of the reference solutions (with ``monkeypatch``, so nothing
leaks into other tests) and runs a grader test over all its parameters: at least one must fail.
"""

import pytest

from lessons.a01_autograd import exercises
from lessons.a01_autograd import test_a01_autograd as grader
from lessons.grading import meta_tests, planted, t64

solutions = pytest.importorskip("lessons.a01_autograd.solutions", reason="solutions.py removed (student handout)")


def _apply(op, n, m):
    out = getattr(m, op).apply(*[t64((2, 3), seed=i + 1, low=0.5, high=2.0) for i in range(n)])
    out.backward(out.data * 0 + 1)


# one call per stub: each must raise NotImplementedError in exercises.py and run in solutions.py
STUB_CALLS = {
    "Scalar.__mul__": lambda m: m.Scalar(2.0) * m.Scalar(3.0),
    "Scalar.__pow__": lambda m: m.Scalar(2.0) ** 3,
    "Scalar.exp": lambda m: m.Scalar(0.5).exp(),
    "Scalar.tanh": lambda m: m.Scalar(0.5).tanh(),
    "Scalar.backward": lambda m: m.Scalar(1.0).backward(),
    "Mul.backward": lambda m: _apply("Mul", 2, m),
    "Div.backward": lambda m: _apply("Div", 2, m),
    "Exp.backward": lambda m: _apply("Exp", 1, m),
    "Tanh.backward": lambda m: _apply("Tanh", 1, m),
    "neuron_backward": lambda m: m.neuron_backward(
        *(t64((3,), seed=i).data for i in range(2)), t64((), seed=3).data, t64((3,), seed=4).data
    ),
}


# ----------------------------------------------------------------------------------- planted bugs
def _backward_assigns(self):
    """Assigns instead of accumulating: a value used twice keeps only one contribution."""
    order, seen = [], set()

    def visit(n):
        if id(n) not in seen:
            seen.add(id(n))
            for p in n.parents:
                visit(p)
            order.append(n)

    visit(self)
    self.grad = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad = local * node.grad


def _backward_not_topological(self):
    """Passes a node's gradient on as soon as the node is reached, before it is complete."""
    self.grad, stack, seen = 1.0, [self], {id(self)}
    while stack:
        node = stack.pop()
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * node.grad
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)


def _tanh_missing_square(self):
    import math

    z = math.tanh(self.data)
    return solutions.Scalar(z, (self,), (1.0 - z,), "tanh")


def _pow_wrong_exponent(self, p):
    return solutions.Scalar(self.data**p, (self,), (p * self.data**p,), "**")


def _mul_only_right_for_ones(ctx, g):
    a, b = ctx.saved_tensors
    return b + 0 * g, a + 0 * g


def _neuron_db_not_summed(x, w, b, g):
    import numpy as np

    y = np.tanh(w * x + b)
    dz = g * (1 - y * y)
    return dz * w, dz * x, dz


PLANTED = [
    planted(
        "backward-assigns-not-adds", "Scalar", "backward", _backward_assigns, grader.test_scalar_forward_and_gradients
    ),
    planted(
        "backward-not-topological",
        "Scalar",
        "backward",
        _backward_not_topological,
        grader.test_scalar_forward_and_gradients,
    ),
    planted("tanh-missing-square", "Scalar", "tanh", _tanh_missing_square, grader.test_scalar_forward_and_gradients),
    planted("pow-wrong-exponent", "Scalar", "__pow__", _pow_wrong_exponent, grader.test_scalar_forward_and_gradients),
    planted(
        "mul-swapped",
        "Mul",
        "backward",
        staticmethod(lambda ctx, g: tuple(g * x for x in ctx.saved_tensors)),
        grader.test_function_gradcheck,
    ),
    planted(
        "mul-right-only-for-ones",
        "Mul",
        "backward",
        staticmethod(_mul_only_right_for_ones),
        grader.test_function_gradcheck,
    ),
    planted(
        "div-sign",
        "Div",
        "backward",
        staticmethod(lambda ctx, g: (g / ctx.saved_tensors[1], g * ctx.saved_tensors[0] / ctx.saved_tensors[1] ** 2)),
        grader.test_function_gradcheck,
    ),
    planted("exp-missing-y", "Exp", "backward", staticmethod(lambda ctx, g: (g,)), grader.test_function_gradcheck),
    planted(
        "tanh-missing-square",
        "Tanh",
        "backward",
        staticmethod(lambda ctx, g: (g * (1 - ctx.saved_tensors[0]),)),
        grader.test_function_gradcheck,
    ),
    planted(
        "tanh-missing-square-vs-npgpt",
        "Tanh",
        "backward",
        staticmethod(lambda ctx, g: (g * (1 - ctx.saved_tensors[0]),)),
        grader.test_function_matches_npgpt,
    ),
    planted(
        "neuron-db-not-summed", None, "neuron_backward", _neuron_db_not_summed, grader.test_neuron_backward_by_hand
    ),
]


# the stub checks and the planted-bug check, shared by every assignment (lessons/grading.py)
test_stub_list_is_complete, test_stub_raises_in_exercises_and_runs_in_solutions, test_grader_catches_planted_bug = (
    meta_tests(exercises, solutions, STUB_CALLS, PLANTED)
)
