"""Assignment 1, part 3: the chain rule on arrays, by hand (notebook 01, section 3).

A single tanh neuron applied elementwise, y = tanh(w * x + b), with x and w arrays of shape (n,)
and b one number shared by all n elements. Given the upstream gradient g = dL/dy, write the
gradients of L with respect to x, w and b with NumPy, with no autograd at all.
"""

from __future__ import annotations

import numpy as np


def neuron_backward(x, w, b, g):
    """``(dx, dw, db)`` for y = tanh(w * x + b) and g = dL/dy.

    x, w, g: arrays of shape (n,); b: an array of shape () (or a number). Returns the gradients of
    L with respect to x, w and b, with the shapes of x, w and b.

    ### BEGIN SOLUTION 1.5
    dz = g * (1 - y^2) with y = tanh(w * x + b) and z = w * x + b;
    dx = dz * w, dw = dz * x;
    db = sum_i dz_i: b was used by every element, so its n contributions add up (the scalar-to-array
    step, and the reason the gradient of a broadcast input is a sum).
    ### END SOLUTION 1.5
    """
    x, w, g = np.asarray(x), np.asarray(w), np.asarray(g)
    ### BEGIN SOLUTION 1.5
    y = np.tanh(w * x + b)
    dz = g * (1 - y * y)
    return dz * w, dz * x, dz.sum()
    ### END SOLUTION 1.5
