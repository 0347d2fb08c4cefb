"""``unbroadcast``: the backward of NumPy broadcasting, which every binary op's backward needs.

A broadcast copies an input along new leading axes and along axes of size 1; each copy contributed
to the loss, so the input's gradient must count every copy.
### BEGIN SOLUTION 3.1
It is the sum over those copies (DeZero calls it ``sum_to``).
### END SOLUTION 3.1
"""

from __future__ import annotations


def unbroadcast(grad, shape):
    """The gradient of an input of ``shape`` from ``grad``, the gradient of its broadcast result.
    ### BEGIN SOLUTION 3.1

    Sum ``grad`` back to ``shape``: over the leading axes broadcasting added, and over the axes
    where ``shape`` has size 1 but ``grad`` does not.
    ### END SOLUTION 3.1
    """
    # nothing was broadcast (the common case): the same array back, whatever the region below holds
    if grad.shape == tuple(shape):
        return grad
    ### BEGIN SOLUTION 3.1
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    g = grad.sum(axis=axes, keepdims=True) if axes else grad
    return g.reshape(shape)
    ### END SOLUTION 3.1
