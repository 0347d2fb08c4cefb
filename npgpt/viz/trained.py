"""Pictures of what a trained model learned: attention maps, position and token embeddings,
the next-character distribution under temperature / top-k / top-p, and the loss curve.

Each function takes a ``GPT`` (and its tokenizer where text is involved) and returns a Figure;
``npgpt.data.load_pretrained()`` gives a small model trained on the shipped Shakespeare.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..nn.positional import sinusoidal_table
from ..sampling import filter_logits
from ._draw import new_figure


def attention_weights(model, ids):
    """Attention weights of every layer and head for one sequence: array (L, H, T, T).

    Runs the model's own modules block by block and, at each block, recomputes
    softmax(q k^T / sqrt(hs) + causal mask) from that block's ``attn.c_attn`` (the fused op
    keeps no weights). Rotary positions, when the model uses them, are applied as in the model.
    """
    cfg = model.config
    ids = np.asarray(ids)[None, :]
    T, H = ids.shape[1], cfg.n_head
    hs = cfg.n_embd // H
    out = []
    with no_grad():
        x = F.embedding(ids, model.transformer.wte.weight)
        if cfg.pos_encoding != "rope":
            x = model.transformer.wpe(x, 0)
        for block in model.transformer.h:
            qkv = block.attn.c_attn(block.ln_1(x)).reshape(1, T, 3, H, hs).permute(2, 0, 3, 1, 4)
            q, k = qkv[0], qkv[1]
            if block.attn.rope is not None:
                q, k = block.attn.rope(q, 0), block.attn.rope(k, 0)
            s = np.asarray(q.data[0] @ k.data[0].swapaxes(-1, -2), dtype=np.float64) / np.sqrt(hs)
            s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
            w = np.exp(s - s.max(-1, keepdims=True))
            out.append(w / w.sum(-1, keepdims=True))
            x = block(x)
    return np.stack(out)


def plot_attention_maps(model, tokenizer, text, layers=None):
    """Grid of attention maps: one row per layer, one column per head, on the characters of ``text``."""
    ids = tokenizer.encode(text)
    w = attention_weights(model, ids)
    layers = range(w.shape[0]) if layers is None else list(layers)
    H = w.shape[1]
    labels = [repr(c)[1:-1] if c in "\n\t" else c for c in text]
    fig, axes = new_figure(
        2.6 * H, 2.6 * len(layers) + 0.5, ncols=H, nrows=len(layers), blank=False, layout="constrained"
    )
    axes = np.asarray(axes).reshape(len(layers), H)
    for r, layer in enumerate(layers):
        for h in range(H):
            ax = axes[r, h]
            ax.imshow(w[layer, h], cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"layer {layer}, head {h}", fontsize=8)
            ax.set_xticks(range(len(labels)), labels, fontsize=6)
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
    fig.suptitle(f"attention weights on {text!r} (row: query position; column: position it reads)", fontsize=10)
    return fig


def _cosine(m):
    m = np.asarray(m, dtype=np.float64)
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    return m @ m.T


def plot_position_similarity(model):
    """Cosine similarity between positions: the learned ``wpe`` rows next to the sinusoidal table."""
    cfg = model.config
    fig, axes = new_figure(10, 4.6, ncols=2, blank=False, layout="constrained")
    panels = [(sinusoidal_table(cfg.block_size, cfg.n_embd), "sinusoidal (fixed)")]
    wpe = getattr(model.transformer, "wpe", None)
    if wpe is not None and getattr(wpe, "weight", None) is not None:
        panels.insert(0, (np.asarray(wpe.weight.data), "learned wpe (trained)"))
    for ax, (table, title) in zip(axes[0], panels):
        im = ax.imshow(_cosine(table), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"{title}: cos(pos i, pos j)", fontsize=10)
        ax.set_xlabel("position j")
        ax.set_ylabel("position i")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8)
    return fig


def _char_group(c):
    if c in "aeiouAEIOU":
        return "vowel", "#d62728"
    if c.isalpha():
        return ("upper-case consonant", "#9467bd") if c.isupper() else ("lower-case consonant", "#1f77b4")
    if c.isdigit():
        return "digit", "#2ca02c"
    return "space, punctuation", "#7f7f7f"


def plot_embedding_pca(model, tokenizer):
    """The token embeddings ``wte`` projected on their first two principal components, one label per character."""
    w = np.asarray(model.transformer.wte.weight.data, dtype=np.float64)
    centred = w - w.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    share = s[:2] ** 2 / (s**2).sum()
    fig, ax = new_figure(8, 6.5, blank=False)
    seen = set()
    for i in range(w.shape[0]):
        c = tokenizer.decode([i])
        group, color = _char_group(c)
        ax.scatter(*xy[i], color=color, s=12, label=None if group in seen else group)
        seen.add(group)
        ax.annotate(
            repr(c)[1:-1] if c.isspace() else c,
            xy[i],
            fontsize=9,
            color=color,
            xytext=(3, 2),
            textcoords="offset points",
        )
    ax.set_xlabel(f"PC 1 ({share[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({share[1]:.0%} of the variance)")
    ax.set_title("token embeddings (wte), first two principal components", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def next_char_probs(model, tokenizer, prompt, temperature=1.0, top_k=None, top_p=None):
    """p(next character | prompt) after temperature / top-k / top-p, as an array (V,)."""
    with no_grad():
        logits, _ = model(np.array([tokenizer.encode(prompt)[-model.config.block_size :]]))
    z = filter_logits(np.asarray(logits.data[:, -1], dtype=np.float64), temperature, top_k, top_p)[0]
    p = np.exp(z - z.max())
    return p / p.sum()


SETTINGS = [
    dict(temperature=1.0),
    dict(temperature=0.5),
    dict(temperature=1.5),
    dict(temperature=1.0, top_k=5),
    dict(temperature=1.0, top_p=0.9),
]


def plot_sampling_distributions(model, tokenizer, prompt, settings=None, n_chars=15):
    """Bar charts of the next-character distribution, one panel per sampling setting."""
    settings = SETTINGS if settings is None else settings
    base = next_char_probs(model, tokenizer, prompt)
    order = np.argsort(-base)[:n_chars]  # the same characters, in the same order, on every panel
    labels = [repr(tokenizer.decode([int(i)]))[1:-1] for i in order]
    fig, axes = new_figure(
        3.2 * len(settings), 3.4, ncols=len(settings), blank=False, layout="constrained", sharey=True
    )
    for ax, st in zip(axes[0], settings):
        p = next_char_probs(model, tokenizer, prompt, **st)
        ax.bar(range(len(order)), p[order], color="#1f77b4")
        ax.set_xticks(range(len(order)), labels, fontsize=8)
        kept = int((p > 0).sum())
        ax.set_title(
            ", ".join(f"{k}={v}" for k, v in st.items()) + f"\n{kept} of {len(p)} characters possible", fontsize=9
        )
    axes[0, 0].set_ylabel("p(next character)")
    fig.suptitle(f"next character after {prompt[-30:]!r}", fontsize=10)
    return fig


def plot_loss_curve(history):
    """Train and val loss against step, from a run's history (dicts with step, train_loss, val_loss)."""
    fig, ax = new_figure(6, 3.8, blank=False)
    steps = [h["step"] for h in history]
    ax.plot(steps, [h["train_loss"] for h in history], marker=".", label="train")
    ax.plot(steps, [h["val_loss"] for h in history], marker=".", label="val")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("training loss", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
