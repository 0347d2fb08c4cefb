"""The instructor's reference rules of assignment 4 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``).

The forwards are task 4.1, so the backwards' expected gradients (central differences of these
forwards, in float64) are recorded too.
"""

import numpy as np

from lessons.finite_differences import numerical_vjp


def log_softmax_reference(x, axis):
    return x - np.logaddexp.reduce(x, axis=axis, keepdims=True)


def softmax_reference(x, axis):
    return np.exp(log_softmax_reference(x, axis))


def token_logprobs_reference(z, targets, ignore_index):
    """log softmax(z)[..., target] at every position, 0 where the target is ignore_index."""
    t = np.asarray(targets)
    keep = t != ignore_index
    picked = np.take_along_axis(log_softmax_reference(z, -1), np.where(keep, t, 0)[..., None], axis=-1)[..., 0]
    return picked * keep


def cross_entropy_reference(z, targets, ignore_index):
    """The mean over counted positions of -log softmax(z)[target]."""
    t = np.asarray(targets)
    keep = t != ignore_index
    picked = np.take_along_axis(log_softmax_reference(z, -1), np.where(keep, t, 0)[..., None], axis=-1)[..., 0]
    return -(picked * keep).sum() / keep.sum()


def softmax_vjp_reference(x, g, axis):
    return numerical_vjp(lambda x: softmax_reference(x, axis), x, g)


def log_softmax_vjp_reference(x, g, axis):
    return numerical_vjp(lambda x: log_softmax_reference(x, axis), x, g)


def cross_entropy_vjp_reference(z, targets, ignore_index, g):
    return numerical_vjp(lambda z: cross_entropy_reference(z, targets, ignore_index), z, g)


def token_logprobs_vjp_reference(z, targets, ignore_index, g):
    return numerical_vjp(lambda z: token_logprobs_reference(z, targets, ignore_index), z, g)
