"""The instructor's reference rules of assignment 3 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np


def unbroadcast_reference(grad, shape):
    """Sum grad over the axes broadcasting added (leading ones) or stretched (size 1 in ``shape``)."""
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape).astype(grad.dtype)


def max_backward_rule(x, g, axis, keepdims):
    """Each of the k tied maxima of a group gets g / k, the others 0."""
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    mask = x == np.max(x, axis=axes, keepdims=True)
    share = g.reshape(np.max(x, axis=axis, keepdims=True).shape) / mask.sum(axis=axes, keepdims=True)
    return np.where(mask, share, 0.0)
