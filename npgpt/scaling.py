"""Scaling laws on npgpt's own models: counting compute, planning a sweep, and fitting the laws.

Counting (C = compute in FLOPs, N = parameters, D = training tokens):

    non_embedding_params(cfg) = N = L (12 C^2 + 13 C) + 2 C      blocks and ln_f (biases on);
                                                                 no token or position embedding
    train_flops(cfg, D)       = 6 N D                           Kaplan et al. 2020: forward 2 N
                                                                 per token (a multiply and an add
                                                                 per weight), backward twice that
### BEGIN SOLUTION 14.1
    flops_per_token(cfg)      = 3 [L (24 C^2 + 4 T C) + 2 C V]  every matmul of a training step,
                                                                 exactly, per token at context T
### END SOLUTION 14.1

The sweep's budgets are counted with ``train_flops`` (the 6ND of the papers); ``flops_per_token``
adds what 6N leaves out (attention scores over T positions, the output head over V) and is
recorded next to it.

Fitting (pure NumPy, least squares in log space):

    fit_power_law(x, y)        y = a x^(-alpha)      (+ E, an irreducible loss, with ``offset=True``)
### BEGIN SOLUTION 14.2
    isoflop_minimum(N, L)      L = a u^2 + b u + c,  u = log10 N:  N_opt = 10^(-b / 2a)
### END SOLUTION 14.2
                               (Hoffmann et al. 2022, approach 2: one parabola per budget)
    compute_optimal(minima)    N_opt = k C^a  and the tokens per parameter D_opt / N_opt = C / (6 N_opt^2)

Uncertainties: the standard errors of a least-squares fit (its covariance), and ``bootstrap``,
which refits on resampled points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .nn.config import GPTConfig, parameter_count

CHINCHILLA_TOKENS_PER_PARAM = 20.0  # Hoffmann et al. 2022: about 20 tokens per parameter
FIT_WINDOW = math.log10(4)  # decades of N: an IsoFLOP parabola fits the runs within 4x of the best


# ----------------------------------------------------------------------------- counting
def non_embedding_params(config: GPTConfig) -> int:
    """N of Kaplan et al.: every parameter except the token and position embeddings.

    The output head is tied to the token embedding, so it is not counted either. A block has
    12 C^2 + 13 C (see ``npgpt.nn.config.parameter_count``); ``ln_f`` adds 2 C.
    """
    n = parameter_count(config) - config.vocab_size * config.n_embd
    if config.pos_encoding == "learned":
        n -= config.block_size * config.n_embd
    return n


def train_flops(config: GPTConfig, tokens) -> float:
    """C = 6 N D: training compute in FLOPs for ``tokens`` tokens (N = ``non_embedding_params``)."""
    return 6.0 * non_embedding_params(config) * tokens


def flops_per_token(config: GPTConfig) -> int:
    """Matmul FLOPs of one training step per token, counted exactly (a multiply-add = 2 FLOPs).

    ### BEGIN SOLUTION 14.1
    Forward, per layer (C = n_embd, T = block_size, every position attends to all T keys, as the
    masked matmul computes them):
        q, k, v projection  2 * C * 3C        attention output   2 * C * C
        scores q k^T        2 * T * C         MLP up and down    2 * C * 4C * 2
        weights @ v         2 * T * C
      = 24 C^2 + 4 T C
    plus the output head 2 * C * V. Backward costs twice the forward (a gradient for the input and
    one for the weight of every matmul), so a step costs 3 x forward.
    ### END SOLUTION 14.1
    Elementwise work (softmax, LayerNorm, GELU, AdamW) is not counted: it is O(C) per token, not O(C^2).
    """
    ### BEGIN SOLUTION 14.1
    L, C, T, V = config.n_layer, config.n_embd, config.block_size, config.vocab_size
    forward = L * (24 * C * C + 4 * T * C) + 2 * C * V
    return 3 * forward
    ### END SOLUTION 14.1


# ----------------------------------------------------------------------------- fits
@dataclass
class PowerLaw:
    """y = coef * x^(-exponent) + offset; ``*_err`` are standard errors (least-squares covariance)."""

    coef: float
    exponent: float
    exponent_err: float
    offset: float = 0.0

    def __call__(self, x):
        return self.coef * np.asarray(x, dtype=np.float64) ** (-self.exponent) + self.offset


def _line(u, v):
    """Least-squares v = m u + b: (m, b, standard error of m)."""
    A = np.stack([u, np.ones_like(u)], axis=1)
    (m, b), *_ = np.linalg.lstsq(A, v, rcond=None)
    dof = len(u) - 2
    resid = v - (m * u + b)
    s2 = float(resid @ resid) / dof if dof > 0 else float("nan")
    cov = s2 * np.linalg.inv(A.T @ A)
    return float(m), float(b), math.sqrt(max(cov[0, 0], 0.0))


def fit_power_law(x, y, offset=False) -> PowerLaw:
    """Fit y = a x^(-alpha) (+ E with ``offset``) by least squares on log y against log x.

    With ``offset`` the irreducible E is chosen on a grid below min(y), then on one 400 times finer around the best, to minimise the squared
    error of the straight line through log(y - E) against log x (profile least squares).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"fit_power_law: need two 1-D arrays of the same length >= 3, got {x.shape}, {y.shape}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("fit_power_law: x and y must be positive")
    u = np.log(x)
    if not offset:
        m, b, err = _line(u, np.log(y))
        return PowerLaw(math.exp(b), -m, err)
    grid = np.linspace(0.0, y.min(), 400, endpoint=False)
    best = _best_offset(u, x, y, grid)
    step = grid[1]  # refine once around the best point, 400 times finer
    best = _best_offset(
        u, x, y, np.linspace(max(best.offset - step, 0.0), min(best.offset + step, y.min() - step / 400), 401)
    )
    return best


def _best_offset(u, x, y, grid):
    """The PowerLaw with offset E in ``grid`` whose fit has the least squared error in y."""
    best, best_sse = None, np.inf
    for E in grid:
        m, b, err = _line(u, np.log(y - E))
        sse = float(np.sum((np.exp(b) * x**m + E - y) ** 2))
        if sse < best_sse:
            best, best_sse = PowerLaw(math.exp(b), -m, err, float(E)), sse
    return best


@dataclass
class IsoFLOPMinimum:
    """The parabola in u = log10 N through one budget's losses, and where it bottoms out."""

    budget: float
    n_opt: float  # 10^(u*) with u* = -b / 2a
    log10_n_opt_err: float  # standard error of u* (delta method on the fit's covariance)
    loss_min: float
    interior: bool  # a > 0, u* inside the runs' range, and the best run not at its edge
    # (not interior: n_opt is the edge the parabola runs into, or the best run if a <= 0)
    coeffs: tuple  # (a, b, c)
    n_range: tuple = ()  # (smallest, largest) N of the runs the parabola was fitted to

    @property
    def tokens_opt(self):
        return self.budget / (6.0 * self.n_opt)

    @property
    def tokens_per_param(self):
        return self.tokens_opt / self.n_opt


def isoflop_minimum(budget, n, loss, window=None) -> IsoFLOPMinimum:
    """Fit a parabola in u = log10 N to one budget's runs by least squares; N_opt is where it bottoms out.

    ### BEGIN SOLUTION 14.2
    L = a u^2 + b u + c, minimum at u* = -b / 2a. The error of u* comes from the covariance of
    (a, b) by the delta method: du*/da = b / 2a^2, du*/db = -1 / 2a.
    ### END SOLUTION 14.2

    ``window`` (decades): fit only the runs within that distance in log10 N of the best one. A
    parabola describes the curve near its bottom; far out, a big model given a few steps rises
    steeply and would drag the vertex away (Hoffmann et al. also fit around each minimum).
    """
    if window is not None:
        n, loss = np.asarray(n, dtype=np.float64), np.asarray(loss, dtype=np.float64)
        near = np.abs(np.log10(n) - np.log10(n[np.argmin(loss)])) <= window
        n, loss = n[near], loss[near]
    ### BEGIN SOLUTION 14.2
    u, v = np.log10(np.asarray(n, dtype=np.float64)), np.asarray(loss, dtype=np.float64)
    if len(u) < 3:
        raise ValueError(f"isoflop_minimum: a parabola needs >= 3 runs, budget {budget:.3g} has {len(u)}")
    A = np.stack([u * u, u, np.ones_like(u)], axis=1)
    coeffs, *_ = np.linalg.lstsq(A, v, rcond=None)
    a, b, c = (float(t) for t in coeffs)
    if not a > 0:  # no minimum (straight or upside down): report the best measured run, not interior
        i = int(np.argmin(v))
        return IsoFLOPMinimum(
            float(budget), float(10.0 ** u[i]), float("nan"), float(v[i]), False, (a, b, c), _range(u)
        )
    u_star = -b / (2 * a)
    ### END SOLUTION 14.2
    err = float("nan")
    if len(u) > 3:
        resid = v - A @ coeffs
        cov = float(resid @ resid) / (len(u) - 3) * np.linalg.inv(A.T @ A)
        g = np.array([b / (2 * a * a), -1 / (2 * a)])
        err = math.sqrt(max(float(g @ cov[:2, :2] @ g), 0.0))
    best = u[np.argmin(v)]  # a real minimum is bracketed: runs on both sides of the best one
    interior = bool(u.min() < u_star < u.max() and u.min() < best < u.max())
    if not interior:
        u_star = float(np.clip(u_star, u.min(), u.max()))  # the edge it runs into
    loss_min = a * u_star**2 + b * u_star + c
    return IsoFLOPMinimum(float(budget), 10.0**u_star, err, float(loss_min), interior, (a, b, c), _range(u))


def _range(u):
    return (float(10.0 ** u.min()), float(10.0 ** u.max()))


def compute_optimal(minima) -> PowerLaw:
    """N_opt = k C^a fitted to the interior IsoFLOP minima (a = -exponent; Chinchilla: a ~ 0.5)."""
    inner = [m for m in minima if m.interior]
    if len(inner) < 3:
        raise ValueError(f"compute_optimal: need >= 3 budgets with an interior minimum, have {len(inner)}")
    return fit_power_law([m.budget for m in inner], [m.n_opt for m in inner])


def bootstrap(fit, x, y, n=500, seed=0):
    """Refit ``fit(x, y) -> float`` on ``n`` resamples of the points (with replacement).

    Returns the array of estimates (resamples whose fit fails are left out); its standard
    deviation is the bootstrap standard error.
    """
    x, y = np.asarray(x), np.asarray(y)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i = rng.integers(0, len(x), len(x))
        if len(np.unique(x[i])) < 3:
            continue
        try:
            out.append(fit(x[i], y[i]))
        except (ValueError, np.linalg.LinAlgError):
            continue
    return np.asarray(out)


# ----------------------------------------------------------------------------- a sweep's laws
@dataclass
class SweepFits:
    """The laws fitted to a sweep's results (``fit_sweep``)."""

    minima: list  # IsoFLOPMinimum per budget with >= 3 runs
    l_of_n: PowerLaw  # best loss of each model size (over its data-rich runs) against N
    l_of_n_boot_err: float  # bootstrap standard error of its exponent
    l_of_c: PowerLaw  # the IsoFLOP minima's loss against C (interior minima)
    n_opt: PowerLaw | None  # N_opt = k C^a (None with < 3 interior minima)
    envelope: tuple  # (N, best loss) the L(N) fit used


def runs_by_budget(results) -> dict:
    """{budget: (N array, val loss array)} of a sweep's runs, N ascending (seeds averaged)."""
    groups = {}
    for r in results["runs"]:
        groups.setdefault(r["budget"], {}).setdefault(r["params"], []).append(r["val_loss"])
    out = {}
    for budget in sorted(groups):
        n = np.array(sorted(groups[budget]), dtype=np.float64)
        out[budget] = (n, np.array([np.mean(groups[budget][k]) for k in sorted(groups[budget])]))
    return out


def fit_sweep(results, min_tokens_per_param=200.0, window=FIT_WINDOW, seed=0) -> SweepFits:
    """Kaplan's L(N) and L(C), and Chinchilla's IsoFLOP minima and N_opt(C), from ``results``.

    L(N) is the loss a model size reaches when data does not limit it: Kaplan et al. train to
    convergence; a sweep has, for each N, its best loss over the runs that saw at least
    ``min_tokens_per_param`` tokens per parameter (a big model's few-step runs say nothing about N).
    L(C) is the IsoFLOP minima's loss against their budget; each minimum is a parabola fitted to
    the runs within ``window`` decades of N of that budget's best run (a factor of 4 either side).
    """
    groups = runs_by_budget(results)
    minima = []
    for budget, (n, loss) in groups.items():
        near = np.abs(np.log10(n) - np.log10(n[np.argmin(loss)])) <= window
        if near.sum() >= 3:  # else too few runs near the best one to fit a parabola: no minimum
            minima.append(isoflop_minimum(budget, n, loss, window))
    best = {}
    for r in results["runs"]:
        if r["tokens_per_param"] >= min_tokens_per_param:
            best[r["params"]] = min(r["val_loss"], best.get(r["params"], np.inf))
    N = np.array(sorted(best))
    L = np.array([best[k] for k in N])
    boot = bootstrap(lambda a, b: fit_power_law(a, b).exponent, N, L, n=500, seed=seed)
    inner = [m for m in minima if m.interior]
    l_of_c = fit_power_law([m.budget for m in inner], [m.loss_min for m in inner]) if len(inner) >= 3 else None
    n_opt = compute_optimal(minima) if len(inner) >= 3 else None
    return SweepFits(minima, fit_power_law(N, L), float(boot.std()), l_of_c, n_opt, (N, L))
