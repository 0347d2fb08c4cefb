"""The instructor's reference rules of assignment 17 (never handed out: a handout's grader reads what
they give on the public cases from ``expected.npz``; see ``lessons.expected``)."""

import numpy as np


def flat_layout_rule(shapes, multiple_of):
    """(offsets, numel, padded) of parameters of these shapes laid end to end, padded to a multiple."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    offsets = [int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
    numel = int(sum(sizes))
    return offsets, numel, -(-numel // multiple_of) * multiple_of
