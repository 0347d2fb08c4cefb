"""The instructor's reference rules of assignment 9 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np

from lessons.finite_differences import numerical_vjp


def pre_ln_block_reference(x, w):
    """The pre-LN arrangement with every sublayer the stand-in tanh(x @ w[name])."""

    def f(name, v):
        return np.tanh(v @ w[name])

    h = x + f("attn", f("ln_1", x))
    return h + f("mlp", f("ln_2", h))


def pre_ln_block_vjp_reference(x, g, w):
    return numerical_vjp(lambda x: pre_ln_block_reference(x, w), x, g)
