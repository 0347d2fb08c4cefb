"""Broadcasting, and why its backward is a sum: a + b with a (3, 1) and b (1, 4) drawn cell by cell.

Forward: each input is copied along the axes where it has size 1 (faded cells are the copies
NumPy never makes in memory). Backward: every copy contributed to the loss, so each input's
gradient is the upstream gradient summed over the axes it was copied along
(``npgpt.ops.broadcast.unbroadcast``). The numbers in the lower row come from npgpt's own backward.
"""

from __future__ import annotations

import numpy as np

from ..tensor import tensor
from ._draw import arrow, finish, grid, new_figure


def _copies(shape, out_shape):
    """Opacity per cell of the broadcast result: 1 for the original entries, faint for the copies."""
    alpha = np.full(out_shape, 0.3)
    alpha[tuple(slice(0, n) for n in shape)] = 1.0
    return alpha


def draw_broadcast(a=None, b=None, upstream=None):
    """Figure of ``a + b`` (2-D arrays that broadcast) and of the gradients its backward returns.

    ``upstream`` is dL/d(a + b) (default: all ones, so each gradient counts the copies).
    """
    a = np.array([[1.0], [2.0], [3.0]]) if a is None else np.asarray(a, dtype=np.float64)
    b = np.array([[10.0, 20.0, 30.0, 40.0]]) if b is None else np.asarray(b, dtype=np.float64)
    ta, tb = tensor(a, requires_grad=True), tensor(b, requires_grad=True)
    c = ta + tb
    g = np.ones(c.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    c.backward(g)
    R, C = c.shape
    fig, axes = new_figure(11, 6.2, nrows=2)
    top, bottom = axes[0, 0], axes[1, 0]
    # forward: a, b stretched to c's shape, then c
    grid(top, np.broadcast_to(a, c.shape), 0, R, colors="leaf", alpha=_copies(a.shape, c.shape))
    top.text(C + 0.5, R / 2, "+", fontsize=16, ha="center", va="center")
    grid(top, np.broadcast_to(b, c.shape), C + 1, R, colors="leaf", alpha=_copies(b.shape, c.shape))
    top.text(2 * C + 1.5, R / 2, "=", fontsize=16, ha="center", va="center")
    grid(top, c.data, 2 * C + 2, R, colors="tensor")
    top.text(C / 2, R + 0.3, f"a {a.shape}", ha="center", fontsize=9)
    top.text(1.5 * C + 1, R + 0.3, f"b {b.shape}", ha="center", fontsize=9)
    top.text(2.5 * C + 2, R + 0.3, f"a + b {c.shape}", ha="center", fontsize=9)
    finish(
        top, (-0.5, 3 * C + 2.5), (-0.3, R + 1.0), "forward: size-1 axes are copied (faded cells: copies, never stored)"
    )
    # backward: upstream grad, summed back to each input's shape
    grid(bottom, g, 0, R, colors="tensor")
    bottom.text(C / 2, R + 0.3, f"dL/d(a + b) {c.shape}", ha="center", fontsize=9)
    ga, gb = ta.grad, tb.grad
    grid(bottom, ga, C + 2.5, R, colors="leaf")
    bottom.text(C + 2.5 + ga.shape[1] / 2, R + 0.3, "dL/da", ha="center", fontsize=9)
    grid(bottom, gb, C + 4.5, R, colors="leaf")
    bottom.text(C + 4.5 + gb.shape[1] / 2, R + 0.3, "dL/db", ha="center", fontsize=9)
    arrow(bottom, (C + 0.1, R - 0.5), (C + 2.4, R - 0.5))
    bottom.text(C + 1.25, R - 0.35, _sum_text(a.shape, c.shape), ha="center", fontsize=7)
    arrow(bottom, (C / 2, -0.05), (C + 4.5 + gb.shape[1] / 2, R - gb.shape[0] - 0.1), rad=0.25)
    bottom.text(C + 2.5, -0.45, _sum_text(b.shape, c.shape), ha="center", fontsize=7)
    finish(
        bottom,
        (-0.5, 3 * C + 2.5),
        (-0.9, R + 1.0),
        "backward: each gradient sums the upstream gradient over its copies",
    )
    return fig


def _sum_text(shape, out_shape):
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, out_shape)) if n == 1 and m != 1)
    return f"sum(axis={axes[0] if len(axes) == 1 else axes})" if axes else "as is"
