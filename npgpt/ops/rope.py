"""Rotary position embedding (RoPE) as one op with a hand-written backward.

RoPE (Su et al., 2021) encodes position by rotating pairs of features of the queries and keys by
an angle proportional to the position, so the score q_m . k_n depends only on m - n.

Pairing: the GPT-NeoX / LLaMA (HuggingFace) "rotate_half" convention. For head size D the
feature i (i < D/2) is paired with feature i + D/2 (not with its neighbour 2i+1 as in the
paper and GPT-J).
### BEGIN SOLUTION 8.2
With theta_i = base^(-2i/D) and the angle a = pos * theta_i:

    cos, sin             (T, D) tables, each half repeating the D/2 angles: cos = [cos a, cos a]
### END SOLUTION 8.2
### BEGIN SOLUTION 8.3
    rotate_half(x)       = [-x2, x1]   where x1 = x[..., :D/2], x2 = x[..., D/2:]
    y = x * cos + rotate_half(x) * sin

which is, for each pair (x1_i, x2_i), the 2-D rotation by angle a:
y1 = x1 cos a - x2 sin a,  y2 = x2 cos a + x1 sin a.
### END SOLUTION 8.3
### BEGIN SOLUTION 8.4

Backward: rotate_half is the linear map R = [[0, -I], [I, 0]], whose transpose is -R, so

    dx = g * cos + R^T (g * sin) = g * cos - rotate_half(g * sin).
### END SOLUTION 8.4

The composed version (primitive ops: getitem, neg, concat, mul, add) is
``npgpt.nn.positional.apply_rope_composed``; tests hold the two equal.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..backend import get_array_module


def rotate_half(x):
    """[-x2, x1] for x = [x1, x2] split in halves along the last axis (an array op)."""
    h = x.shape[-1] // 2
    return get_array_module(x).concatenate((-x[..., h:], x[..., :h]), axis=-1)


def rope_tables(T, D, base=10000.0, offset=0, dtype=np.float32):
    """NumPy (cos, sin) tables (T, D) for positions offset .. offset+T-1 (computed in float64)."""
    if D % 2:
        raise ValueError(f"RoPE needs an even head size, got {D}")
    ### BEGIN SOLUTION 8.2
    inv_freq = base ** (-np.arange(0, D, 2, dtype=np.float64) / D)  # (D/2,)
    angles = np.arange(offset, offset + T, dtype=np.float64)[:, None] * inv_freq[None, :]  # (T, D/2)
    angles = np.concatenate([angles, angles], axis=-1)  # (T, D): both halves share the angles
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)
    ### END SOLUTION 8.2


class RoPE(Function):
    """Each feature pair (i, i + D/2) of x (..., T, D) rotated by its angle; cos and sin (T, D) constants.

    ### BEGIN SOLUTION 8.3
    y = x * cos + rotate_half(x) * sin
    ### END SOLUTION 8.3
    """

    @staticmethod
    def forward(ctx, x, cos, sin):
        if x.shape[-1] % 2 or cos.shape != sin.shape or cos.shape != x.shape[-2:]:
            raise ValueError(
                f"expected x (..., T, D) with even D and cos, sin (T, D), got {tuple(x.shape)}, "
                f"{tuple(cos.shape)}, {tuple(sin.shape)}"
            )
        if cos.dtype != x.dtype:
            raise TypeError(f"RoPE tables are {cos.dtype} but x is {x.dtype}")
        ctx.save_for_backward(cos, sin)
        ### BEGIN SOLUTION 8.3
        y = x * cos
        y += rotate_half(x) * sin
        ### END SOLUTION 8.3
        return y

    @staticmethod
    def backward(ctx, g):
        cos, sin = ctx.saved_tensors
        ### BEGIN SOLUTION 8.4
        dx = g * cos
        dx -= rotate_half(g * sin)
        ### END SOLUTION 8.4
        return (dx,)
