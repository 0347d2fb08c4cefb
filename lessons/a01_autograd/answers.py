"""The instructor's reference gradients of assignment 1 (never handed out: a handout's grader reads
what they give on the public cases from ``expected.npz``; see ``lessons.expected``).

Each is central differences (task 2.1's answer, so an a01 handout, where 2.1 is a stub, must not
carry them) of a forward the grader computes with NumPy, in float64.
"""

import numpy as np

from lessons.finite_differences import numerical_vjp

UNARY = {"Exp": np.exp, "Tanh": np.tanh}


def mul_vjp_reference(a, b, g):
    """(dL/da, dL/db) of a * b for the upstream gradient g."""
    return numerical_vjp(lambda a: a * b, a, g), numerical_vjp(lambda b: a * b, b, g)


def div_vjp_reference(a, b, g):
    """(dL/da, dL/db) of a / b for the upstream gradient g."""
    return numerical_vjp(lambda a: a / b, a, g), numerical_vjp(lambda b: a / b, b, g)


def unary_vjp_reference(op, x, g):
    """dL/dx of exp(x) or tanh(x) (``op`` "Exp" or "Tanh") for the upstream gradient g."""
    return numerical_vjp(UNARY[op], x, g)


def neuron_vjp_reference(x, w, b, g):
    """(dx, dw, db) of tanh(w * x + b) for the upstream gradient g."""
    f = [lambda x: np.tanh(w * x + b), lambda w: np.tanh(w * x + b), lambda b: np.tanh(w * x + b)]
    return tuple(numerical_vjp(fn, v, g) for fn, v in zip(f, (x, w, b)))
