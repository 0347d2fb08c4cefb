"""``cupy.random`` of the stand-in: a Generator with only the methods CuPy's Generator has."""

from __future__ import annotations

import numpy as np

from ._core import wrap

# the methods of cupy.random.Generator (CuPy 14.2): no normal, choice, permutation or spawn
METHODS = frozenset(
    """beta binomial chisquare dirichlet exponential f gamma geometric hypergeometric integers logseries
    poisson power random standard_exponential standard_gamma standard_normal uniform""".split()
)


class Generator:
    def __init__(self, seed=None):
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute {name!r}")
        method = getattr(self._g, name)
        return lambda *args, **kwargs: wrap(method(*args, **kwargs))


Generator.__module__ = "cupy.random._generator"


def default_rng(seed=None):
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)
