"""The instructor's reference rules of assignment 11 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np


def softmax_of_a_row_reference(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top_k_reference(z, k):
    """Each row's k largest logits unchanged, the rest -inf (rows without ties at the k-th)."""
    out = np.full_like(z, -np.inf)
    for b in range(z.shape[0]):
        keep = np.argsort(-z[b])[:k]
        out[b, keep] = z[b, keep]
    return out


def nucleus_reference(z, p):
    """Keep the most likely tokens until their probability reaches p."""
    out = np.full_like(z, -np.inf)
    for b in range(z.shape[0]):
        probs = softmax_of_a_row_reference(z[b])
        order = np.argsort(-probs)
        before = np.cumsum(probs[order]) - probs[order]
        keep = order[(before < p - 1e-12) | (np.arange(len(order)) == 0)]
        out[b, keep] = z[b, keep]
    return out


def inverse_cdf_reference(z, u):
    """For one row of logits z (V,) and uniforms u (n,): the first id whose cumulative probability exceeds u."""
    cdf = np.cumsum(softmax_of_a_row_reference(z))
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(z) - 1)


def causal_mask_rule(Tq, Tk):
    """Task 7.1's mask: query i at absolute position i + Tk - Tq sees keys 0..i + Tk - Tq."""
    return np.arange(Tk) > np.arange(Tq)[:, None] + Tk - Tq
