"""Assignment 1, part 1: a scalar autograd engine, ``Scalar`` (notebook 01, sections 1-2).

A ``Scalar`` is a float that remembers how it was computed: its ``parents`` (the Scalars it was
computed from) and its ``local_grads``, one number per parent, d(self)/d(parent) evaluated in the
forward pass. ``backward`` then fills ``.grad`` = d(output)/d(node) of every node of the graph.

    a, b = Scalar(2.0), Scalar(-3.0)
    c = a * b + a                  # c.data = -4.0
    c.backward()                   # a.grad = b + 1 = -2.0, b.grad = a = 2.0

``__add__`` is written as the example to follow; ``-``, ``/`` and the reflected operators are built
from ``+``, ``*`` and ``**``, so they work as soon as those do.
"""

from __future__ import annotations

import math


class Scalar:
    """A float that remembers how it was computed.

    ``data``: the value; ``parents``: the Scalars it was computed from; ``local_grads``: the number
    d(data)/d(parent) for each parent, in the same order; ``op``: a label for printing;
    ``grad``: d(output)/d(self), 0.0 until ``backward`` fills it.
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
        """A number becomes a constant Scalar (a leaf); a Scalar stays itself."""
        return x if isinstance(x, Scalar) else Scalar(x)

    def __add__(self, other):
        """z = a + b.  dz/da = 1, dz/db = 1.  (Given: the pattern every op follows.)"""
        other = Scalar.lift(other)
        return Scalar(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        """z = a * b, with the local gradients (dz/da, dz/db).

        ### BEGIN SOLUTION 1.1
        dz/da = b, dz/db = a.
        ### END SOLUTION 1.1
        """
        other = Scalar.lift(other)
        ### BEGIN SOLUTION 1.1
        return Scalar(self.data * other.data, (self, other), (other.data, self.data), "*")
        ### END SOLUTION 1.1

    def __pow__(self, p):
        """z = a ** p for a constant number p (not a Scalar), with the local gradient dz/da.

        ### BEGIN SOLUTION 1.1
        dz/da = p * a ** (p - 1).
        ### END SOLUTION 1.1
        """
        if not isinstance(p, (int, float)):
            raise TypeError(f"Scalar ** p: only a constant number p, got {type(p).__name__}")
        ### BEGIN SOLUTION 1.1
        return Scalar(self.data**p, (self,), (p * self.data ** (p - 1),), f"**{p:g}")
        ### END SOLUTION 1.1

    def exp(self):
        """z = e^a, with the local gradient dz/da.

        ### BEGIN SOLUTION 1.1
        dz/da = e^a = z.
        ### END SOLUTION 1.1
        """
        ### BEGIN SOLUTION 1.1
        z = math.exp(self.data)
        return Scalar(z, (self,), (z,), "exp")
        ### END SOLUTION 1.1

    def tanh(self):
        """z = tanh(a), with the local gradient dz/da.

        ### BEGIN SOLUTION 1.1
        dz/da = 1 - tanh(a)^2 = 1 - z^2.
        ### END SOLUTION 1.1
        """
        ### BEGIN SOLUTION 1.1
        z = math.tanh(self.data)
        return Scalar(z, (self,), (1.0 - z * z,), "tanh")
        ### END SOLUTION 1.1

    # built from the ops above: nothing to write here
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
        """Reverse-mode autodiff: set ``self.grad = 1`` (dL/dL) and fill ``.grad`` of every Scalar
        this one depends on, so that afterwards x.grad = d(self)/d(x).

        Every node of a new graph starts with grad 0.0. A Scalar may be used more than once (as both
        parents of one node, or by several nodes), and graphs may be a few hundred nodes deep.

        ### BEGIN SOLUTION 1.2
        1. Order the graph topologically: a list in which every node comes after all its parents
           (a depth-first search that appends a node once all its parents are in the list).
        2. self.grad = 1.
        3. Walk the list backwards (outputs first): a node's gradient is complete when it is
           reached, since every node that uses it came later in the list; pass it on with the
           chain rule, parent.grad += local_grad * node.grad. The += adds up the contributions
           of a value used more than once.
        ### END SOLUTION 1.2
        """
        ### BEGIN SOLUTION 1.2
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # depth-first, iterative: a deep graph does not hit Python's recursion limit
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))  # appended to order after all of its parents
                stack.extend((p, False) for p in node.parents if id(p) not in seen)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local_grads):
                parent.grad += local * node.grad
        ### END SOLUTION 1.2
