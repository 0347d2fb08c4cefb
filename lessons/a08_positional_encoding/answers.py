"""The instructor's reference rules of assignment 8 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``).

RoPE's forward is task 8.3, so the backward's expected gradients (central differences of it, in
float64) are recorded too.
"""

import numpy as np

from lessons.finite_differences import numerical_vjp


def sinusoidal_reference(T, C):
    pe = np.zeros((T, C))
    for pos in range(T):
        for j in range(C):
            i2 = j - j % 2  # the even feature of j's pair
            angle = pos / 10000 ** (i2 / C)
            pe[pos, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


def rope_reference(T, D, base=10000.0, offset=0):
    cos, sin = np.zeros((T, D)), np.zeros((T, D))
    for t in range(T):
        for j in range(D):
            i = j % (D // 2)  # features i and i + D/2 share an angle
            a = (offset + t) * base ** (-2 * i / D)
            cos[t, j], sin[t, j] = np.cos(a), np.sin(a)
    return cos, sin


def rotate_pairs_reference(x, cos, sin):
    """Each pair (x_i, x_{i + D/2}) turned by its angle, written as a 2-D rotation."""
    h = x.shape[-1] // 2
    c, s = cos[..., :h], sin[..., :h]
    lo, hi = x[..., :h], x[..., h:]
    return np.concatenate([lo * c - hi * s, hi * c + lo * s], axis=-1)


def rope_vjp_reference(x, g, cos, sin):
    return numerical_vjp(lambda x: rotate_pairs_reference(x, cos, sin), x, g)
