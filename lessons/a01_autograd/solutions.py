"""Assignment 1, REFERENCE SOLUTIONS (instructors: delete this file from the student handout).

``exercises.py`` is this file with the bodies replaced by TODOs. The graders test this file by
default (``pytest lessons/a01_autograd``), which shows the assignment is solvable as specified.

Part 1, ``Scalar``: a tiny scalar autograd. Each op builds a new ``Scalar`` that remembers its
parents and the *local* derivatives d(out)/d(parent); ``backward`` applies the chain rule,
    parent.grad += local_grad * out.grad,
visiting nodes in reverse topological order (a node's gradient must be complete before it is
passed on), and *adding* (a value used twice receives two contributions).

Part 2, tensor ops on npgpt's ``Function`` API: ``forward(ctx, *arrays)`` is given; you write
``backward(ctx, g)``, which receives g = dL/dy (an array of y's shape) and returns one dL/dinput per
input, each of that input's shape. In this assignment both inputs of a binary op have the same shape
(broadcasting is assignment 3). Save what backward needs with ``ctx.save_for_backward`` and read it
back from ``ctx.saved_tensors``. Take the array module from the arrays (``xp = get_array_module(g)``)
rather than writing ``np.`` so that the code also runs on CuPy.

Part 3, the chain rule on tensors by hand: ``neuron_backward``.
"""

from __future__ import annotations

import math

from npgpt.autograd import Function
from npgpt.backend import get_array_module


# ============================================================================ Part 1: scalars
class Scalar:
    """A float that remembers how it was computed.

    ``parents``: the Scalars it was computed from; ``local_grads``: d(self)/d(parent) for each,
    numbers evaluated during the forward pass; ``grad``: dL/d(self), filled by ``backward``.
    """

    def __init__(self, data, parents=(), local_grads=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.local_grads = tuple(local_grads)
        self.op = op

    def __repr__(self):
        return f"Scalar(data={self.data:.6g}, grad={self.grad:.6g}{', op=' + self.op if self.op else ''})"

    @staticmethod
    def lift(x) -> Scalar:
        return x if isinstance(x, Scalar) else Scalar(x)

    def __add__(self, other):
        """z = a + b.  dz/da = 1, dz/db = 1.  (Given: a worked example of the pattern.)"""
        other = Scalar.lift(other)
        return Scalar(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        """z = a * b.  dz/da = b, dz/db = a.

        Return ``Scalar(value, (self, other), (dz/da, dz/db), "*")`` as ``__add__`` does.
        """
        other = Scalar.lift(other)
        return Scalar(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, p):
        """z = a ** p for a constant number p.  dz/da = p * a ** (p - 1)."""
        assert isinstance(p, (int, float)), "only constant exponents"
        return Scalar(self.data**p, (self,), (p * self.data ** (p - 1),), f"**{p:g}")

    def exp(self):
        """z = e^a.  dz/da = e^a = z."""
        z = math.exp(self.data)
        return Scalar(z, (self,), (z,), "exp")

    def tanh(self):
        """z = tanh(a).  dz/da = 1 - tanh(a)^2 = 1 - z^2."""
        z = math.tanh(self.data)
        return Scalar(z, (self,), (1.0 - z * z,), "tanh")

    # built from the ops above, nothing to write here
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Scalar.lift(other))

    def __truediv__(self, other):
        return self * Scalar.lift(other) ** -1.0

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Scalar.lift(other) - self

    def __rtruediv__(self, other):
        return Scalar.lift(other) / self

    def backward(self):
        """Reverse-mode autodiff: fill ``.grad`` of every Scalar this one depends on.

        1. Order the graph topologically: a list in which every node comes after all its parents
           (depth-first search from ``self``: append a node after visiting all its parents).
        2. ``self.grad = 1.0`` (dL/dL).
        3. Walk the list backwards (outputs first); for each node, for each parent with its local
           gradient: ``parent.grad += local_grad * node.grad``.

        Leaves are assumed to start with grad 0.0 (as a new Scalar does).
        """
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # iterative depth-first search, so deep graphs do not hit the recursion limit
            node, done = stack.pop()
            if done:
                order.append(node)  # after all its parents
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents if id(p) not in seen)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * node.grad


# ============================================================================ Part 2: tensor ops
def _same_shape(name, a, b):
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: this assignment's ops take inputs of one shape, got {a.shape} and {b.shape} "
            "(broadcasting is assignment 3)"
        )


class Mul(Function):
    """z = a * b (elementwise, a and b of one shape).  dL/da = g * b,  dL/db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        _same_shape("Mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/da, dL/db)``."""
        a, b = ctx.saved_tensors
        return g * b, g * a


class Div(Function):
    """z = a / b.  dL/da = g / b,  dL/db = -g * a / b^2 = -g * z / b."""

    @staticmethod
    def forward(ctx, a, b):
        _same_shape("Div", a, b)
        z = a / b
        ctx.save_for_backward(a, b)
        return z

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/da, dL/db)``."""
        a, b = ctx.saved_tensors
        return g / b, -g * a / (b * b)


class Exp(Function):
    """y = e^x.  dL/dx = g * e^x = g * y  (save y in forward: backward then costs one multiply)."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)`` (a tuple of one array)."""
        (y,) = ctx.saved_tensors
        return (g * y,)


class Tanh(Function):
    """y = tanh(x).  dL/dx = g * (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        """Return ``(dL/dx,)``."""
        (y,) = ctx.saved_tensors
        return (g * (1 - y * y),)


def neuron(x, w, b):
    """y = tanh(w * x + b) built from the ops above (x, w tensors of one shape, b a 0-d tensor)."""
    return Tanh.apply(Mul.apply(w, x) + b)


# ============================================================================ Part 3: chain rule by hand
def neuron_backward(x, w, b, g):
    """The gradients of L through y = tanh(z), z = w * x + b, computed by hand with NumPy.

    Inputs are plain arrays: x, w of shape (n,), b of shape () (one number shared by all n
    elements), g = dL/dy of shape (n,). Return ``(dx, dw, db)`` with the shapes of x, w, b:

        dz = g * (1 - y^2)          with y = tanh(w * x + b)
        dx = dz * w,   dw = dz * x
        db = sum_i dz_i             b was used by every element, so its contributions add up

    (That last line is the scalar-to-tensor step: it is why the gradient of a broadcast is a sum.)
    """
    y = get_array_module(x).tanh(w * x + b)
    dz = g * (1 - y * y)
    return dz * w, dz * x, dz.sum()
