"""Pictures of scaling: a sweep's IsoFLOP curves and laws (``npgpt.scaling``), and the induction
phase change and attention maps (``npgpt.induction``)."""

from __future__ import annotations

import numpy as np

from ..scaling import CHINCHILLA_TOKENS_PER_PARAM, fit_sweep, runs_by_budget
from ._draw import Diagram


def plot_scaling_laws(results, fits=None):
    """Three log-log panels: IsoFLOP curves with their parabolas and minima, L(N), and N_opt(C)."""
    fits = fit_sweep(results) if fits is None else fits
    fig = Diagram(figsize=(15, 4.4), dpi=100, layout="constrained")
    iso, ln, nc = fig.subplots(1, 3)
    groups = runs_by_budget(results)
    colors = [f"C{i}" for i in range(len(groups))]
    for (budget, (n, loss)), color in zip(groups.items(), colors, strict=True):
        iso.plot(n, loss, "o", color=color, label=f"C = {budget:.0e}")
        m = next((m for m in fits.minima if m.budget == budget), None)
        if m is not None:
            u = np.linspace(*np.log10(m.n_range), 100)  # where the parabola was fitted
            iso.plot(10**u, np.polyval(m.coeffs, u), "-", color=color, alpha=0.6)
            if m.interior:
                iso.plot(m.n_opt, m.loss_min, "*", color=color, markersize=14, markeredgecolor="k")
    iso.set(xscale="log", xlabel="non-embedding parameters N", ylabel="held-out loss (nats/char)")
    iso.set_title("IsoFLOP curves (star: the parabola's minimum)", fontsize=10)
    iso.legend(fontsize=8)
    N, L = fits.envelope
    ln.plot(N, L, "o", color="k")
    ln.plot(N, fits.l_of_n(N), "-", color="C3", label=f"L = (N_c/N)^{fits.l_of_n.exponent:.3f}")
    ln.set(
        xscale="log", yscale="log", xlabel="non-embedding parameters N", ylabel="best loss (runs with plenty of data)"
    )
    ln.set_title(f"L(N): alpha_N = {fits.l_of_n.exponent:.3f} +- {fits.l_of_n_boot_err:.3f}", fontsize=10)
    ln.legend(fontsize=8)
    inner = [m for m in fits.minima if m.interior]
    C = np.array([m.budget for m in inner])
    nc.errorbar(
        C, [m.n_opt for m in inner], yerr=_log_err(inner), fmt="*", color="k", markersize=10, label="IsoFLOP minima"
    )
    grid = np.logspace(np.log10(min(groups)) - 0.5, np.log10(max(groups)) + 1, 50)
    if fits.n_opt is not None:
        nc.plot(grid, fits.n_opt(grid), "-", color="C3", label=f"fit: N_opt ~ C^{-fits.n_opt.exponent:.2f}")
    chin = np.sqrt(grid / (6 * CHINCHILLA_TOKENS_PER_PARAM))  # D = 20 N and C = 6 N D
    nc.plot(grid, chin, "--", color="gray", label="Chinchilla: D = 20 N")
    nc.set(xscale="log", yscale="log", xlabel="compute C = 6ND (FLOPs)", ylabel="compute-optimal N")
    nc.set_title("the compute-optimal model size", fontsize=10)
    nc.legend(fontsize=8)
    return fig


def _log_err(minima):
    """Asymmetric error bars in N from the standard error of log10 N_opt."""
    n = np.array([m.n_opt for m in minima])
    e = np.nan_to_num(np.array([m.log10_n_opt_err for m in minima]))
    return np.stack([n - n / 10**e, n * 10**e - n])


def plot_phase_change(history):
    """The induction task's two losses against the training step."""
    fig = Diagram(figsize=(7, 3.8), dpi=100, layout="constrained")
    ax = fig.subplots()
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["first_half"] for h in history], label="first half (random: unpredictable)")
    ax.plot(steps, [h["repeated_half"] for h in history], label="repeated half (predictable from the context)")
    ax.set(xlabel="training step", ylabel="loss (nats)")
    ax.set_title("the phase change: an induction head forms", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_head_maps(maps, titles):
    """Attention maps (H, T, T), one panel per head, with its title."""
    fig = Diagram(figsize=(3.2 * len(maps), 3.4), dpi=100, layout="constrained")
    for ax, att, title in zip(np.atleast_1d(fig.subplots(1, len(maps))), maps, titles, strict=True):
        ax.imshow(att, cmap="Blues", vmin=0, vmax=1)
        ax.set(xlabel="key position", ylabel="query position")
        ax.set_title(title, fontsize=9)
    return fig
