"""Central differences in float64: the expected gradients of the graders that check a backward.

Central differences are the answer of task 2.1, so this module is a file of its own: a handout in
which 2.1 is a stub gets it only where one of its graders needs it (a01's, and every grader of an
``--all`` handout); ``lessons.release`` leaves it out of the others (a02 released alone), and a
handout of a later assignment carries it as the grader's tool of an assignment already done.
"""

from __future__ import annotations

import numpy as np


def numerical_vjp(f, x, g, h=1e-6):
    """sum(g * df/dx) by central differences in float64: the gradient of <g, f(x)> with respect to x."""
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = np.sum(g * f(x))
        x[i] = old - h
        down = np.sum(g * f(x))
        x[i] = old
        out[i] = (up - down) / (2 * h)
    return out
