"""Attention drawn step by step: Q/K/V and the causal mask, the multi-head split and merge, the KV cache.

The numbers are computed (small random weights, fixed seed), not typed in, with the same formulas
as ``npgpt/ops/attention.py``: weights = softmax(q k^T / sqrt(hs) + mask), mask = -inf above the
diagonal, so position t attends to positions 0..t only.
"""

from __future__ import annotations

import numpy as np

from ._draw import HEAD_COLORS, Diagram, arrow, box, finish, grid, new_figure


def _causal_example(text, head_size, seed):
    rng = np.random.default_rng(seed)
    T = len(text)
    q, k = rng.standard_normal((T, head_size)), rng.standard_normal((T, head_size))
    scores = q @ k.T / np.sqrt(head_size)
    masked = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
    w = np.exp(masked - masked.max(axis=1, keepdims=True))
    return scores, masked, w / w.sum(axis=1, keepdims=True)


def _heat(ax, m, labels, title, cmap, vmin=None, vmax=None, fmt="{:.2f}"):
    shown = np.where(np.isfinite(m), m, np.nan)
    im = ax.imshow(shown, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("key position (attended to)")
    ax.set_ylabel("query position")
    ax.set_title(title, fontsize=10)
    for (i, j), v in np.ndenumerate(m):
        s = "-inf" if np.isneginf(v) else fmt.format(v)
        ax.text(j, i, s, ha="center", va="center", fontsize=7, color="#555555" if np.isneginf(v) else "black")
    ax.set_facecolor("#cccccc")  # masked cells (NaN in the image) show the background
    return im


def draw_causal_attention(text="to be!", head_size=4, seed=0):
    """Figure: how one head turns x into outputs, and the scores before and after the causal mask."""
    fig = _new_plain_figure(14, 4.6)
    gs = fig.add_gridspec(1, 4, width_ratios=[1.3, 1, 1, 1])
    flow = fig.add_subplot(gs[0])
    flow.set_axis_off()
    x = box(flow, 0, 0, "x (T, C)", color="residual")
    q = box(flow, 2.0, 1.6, "q = x Wq", color="attn")
    k = box(flow, 2.0, 0, "k = x Wk", color="attn")
    v = box(flow, 2.0, -1.6, "v = x Wv", color="attn")
    s = box(flow, 4.2, 0.8, "q k^T / sqrt(hs)\n+ causal mask", color="op", size=8)
    p = box(flow, 4.2, -0.6, "softmax\n(each row)", color="op", size=8)
    y = box(flow, 4.2, -2.2, "y = weights @ v\n(T, hs)", color="tensor", size=8)
    for dst in (q, k, v):
        arrow(flow, x, dst)
    arrow(flow, q, s)
    arrow(flow, k, s)
    arrow(flow, s, p)
    arrow(flow, p, y)
    arrow(flow, v, y)
    finish(flow, (-0.9, 5.4), (-2.9, 2.4), "one head")
    scores, masked, w = _causal_example(text, head_size, seed)
    labels = list(text)
    lim = np.abs(scores).max()
    _heat(fig.add_subplot(gs[1]), scores, labels, "scores q k^T / sqrt(hs)", "coolwarm", -lim, lim)
    _heat(fig.add_subplot(gs[2]), masked, labels, "+ mask: -inf above diagonal", "coolwarm", -lim, lim)
    _heat(fig.add_subplot(gs[3]), w, labels, "softmax: rows sum to 1", "Blues", 0, 1)
    fig.suptitle("causal self-attention: position t sees positions 0..t only", fontsize=11)
    return fig


def _new_plain_figure(w, h):
    return Diagram(figsize=(w, h), dpi=100, layout="constrained")


def draw_multihead(n_head=4, head_size=2, T=3):
    """Figure: (T, C) split into H heads of hs features, each head attends alone, then merged back."""
    C = n_head * head_size
    colors = [[HEAD_COLORS[j // head_size % len(HEAD_COLORS)] for j in range(C)] for _ in range(T)]
    vals = np.array([[f"{t}.{j}" for j in range(C)] for t in range(T)])
    fig, ax = new_figure(12, 3.0)
    grid(ax, vals, 0, T, colors=colors, size=6)
    ax.text(C / 2, T + 0.35, f"q (T={T}, C={C})", ha="center", fontsize=9)
    x0 = C + 3
    for h in range(n_head):  # (H, T, hs): one small matrix per head
        cols = slice(h * head_size, (h + 1) * head_size)
        x = x0 + h * (head_size + 1)
        grid(ax, vals[:, cols], x, T, colors=HEAD_COLORS[h % len(HEAD_COLORS)], size=6)
        ax.text(x + head_size / 2, T + 0.35, f"head {h}", ha="center", fontsize=8)
        ax.text(x + head_size / 2, -0.5, "attends\nalone", ha="center", va="top", fontsize=7)
    arrow(ax, (C + 0.2, T / 2), (x0 - 0.2, T / 2))
    ax.text(C + 1.5, T / 2 + 0.25, ".reshape(T, H, hs)\n.transpose(0, 1)", ha="center", va="bottom", fontsize=7)
    xm = x0 + n_head * (head_size + 1) + 2
    arrow(ax, (xm - 2.2, T / 2), (xm - 0.2, T / 2))
    ax.text(xm - 1.2, T / 2 + 0.25, "merge:\n.transpose\n.reshape(T, C)", ha="center", va="bottom", fontsize=7)
    grid(ax, vals, xm, T, colors=colors, size=6)
    ax.text(xm + C / 2, T + 0.35, "y (T, C) -> c_proj mixes the heads", ha="center", fontsize=9)
    finish(
        ax,
        (-0.5, xm + C + 0.5),
        (-1.6, T + 1.0),
        f"multi-head attention: {n_head} heads of {head_size} features, same total width",
    )
    return fig


def draw_kv_cache(steps=5, block_size=8):
    """Figure: generation step by step; each new token computes one k, v and reads all cached ones."""
    fig, ax = new_figure(10, 0.8 * steps + 1.4)
    for s in range(steps):
        y = steps - s
        state = np.array([[2 if j == s else (1 if j < s else 0) for j in range(block_size)]])
        colors = [["new" if c == 2 else ("filled" if c == 1 else "white") for c in state[0]]]
        labels = np.array([["k,v new" if c == 2 else (f"k,v {j}" if c == 1 else "") for j, c in enumerate(state[0])]])
        grid(ax, labels, 0, y, colors=colors, size=6)
        ax.text(-0.3, y - 0.5, f"step {s}", ha="right", va="center", fontsize=8)
        ax.text(
            block_size + 0.3,
            y - 0.5,
            f"q of token {s} attends to {s + 1} key{'s' if s else ''}; 1 new k, v computed",
            va="center",
            fontsize=8,
        )
    finish(
        ax,
        (-1.6, block_size + 6.8),
        (-0.1, steps + 0.6),
        f"the KV cache filling up (block_size {block_size}): work per token O(t), not O(t^2)",
    )
    return fig
