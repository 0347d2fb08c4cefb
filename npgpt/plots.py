"""Pictures for training runs, drawn with matplotlib (headless backend, written to PNG)."""

from __future__ import annotations

from pathlib import Path


def plot_losses(history, path) -> Path:
    """Train and val loss against step from ``history`` (dicts with step, train_loss, val_loss)."""
    # a bare Figure, not pyplot: no global backend switch (pyplot's would turn off a notebook's
    # inline plots after the first train()), nothing to close, and no display needed
    from matplotlib.figure import Figure

    steps = [h["step"] for h in history]
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    ax.plot(steps, [h["train_loss"] for h in history], label="train", marker=".")
    ax.plot(steps, [h["val_loss"] for h in history], label="val", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path
