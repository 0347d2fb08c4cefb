"""Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_."""

import math

import numpy as np

from ..backend import get_array_module


def clip_grad_norm_(params, max_norm, eps=1e-6):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    ### BEGIN SOLUTION 5.3
    ``total = sqrt(sum over params of sum(g**2))`` (grads that are None are
    skipped). With ``coef = max_norm / (total + eps)``, every grad is
    multiplied in place by ``coef`` when ``coef < 1`` (torch clamps it to 1).
    ### END SOLUTION 5.3
    Scaling all grads by one factor keeps the update direction and only
    shortens it, which tames rare loss spikes.

    Returns ``total`` (before clipping): log it, it is a good health signal.
    For NumPy grads it is a Python float. For CuPy grads it is a 0-d CuPy
    array and nothing here waits for the GPU (no device-to-host copy inside
    a training step); call ``float()`` on it when you log it. If it is inf or
    nan the grads are left as they are, so the caller can skip the step.
    """
    if not max_norm > 0:
        raise ValueError(f"invalid max_norm: {max_norm!r} (must be > 0)")
    if hasattr(params, "grad"):
        params = [params]
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    ### BEGIN SOLUTION 5.3
    xp = get_array_module(grads[0])
    total = 0.0
    for g in grads:
        flat = g.ravel()  # a view for contiguous arrays: no g*g temporary
        total = total + xp.vdot(flat, flat).astype(np.float64)
    if xp is not np:
        # decide on the device: coef = min(max_norm / (total + eps), 1), or 1 if total is not finite
        total = xp.sqrt(total)
        coef = xp.minimum(max_norm / (total + eps), 1.0)
        coef = xp.where(xp.isfinite(total), coef, 1.0)
        for g in grads:
            g *= coef.astype(g.dtype)
        return total
    total = math.sqrt(float(total))
    coef = max_norm / (total + eps)
    if math.isfinite(total) and coef < 1.0:
        for g in grads:
            g *= coef
    return total
    ### END SOLUTION 5.3
