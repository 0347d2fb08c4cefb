"""The instructor's reference rules of assignment 2 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np


def relative_error_by_hand(a, n, floor=1e-6):
    """The largest per-entry relative error, entry by entry in Python (0 where both are within floor)."""
    worst = 0.0
    for x, y in zip(np.ravel(a).tolist(), np.ravel(n).tolist()):
        big = max(abs(x), abs(y))
        worst = max(worst, abs(x - y) / big if big > floor else 0.0)
    return worst
