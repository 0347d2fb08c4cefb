"""The GPT as boxes and arrows: the whole model, one block on its residual stream, the training loop.

The labels are the names of npgpt's modules (``transformer.wte``, ``ln_1``, ``attn.c_attn`` ...),
so each box can be found in ``npgpt/nn/``; the shapes are the ones on the lines that change them.
"""

from __future__ import annotations

import math

from ._draw import arrow, box, finish, new_figure


def _model_column(ax, n_layer):
    """Left panel: token ids at the bottom, next-token probabilities at the top."""
    ys = {}
    parts = [
        ("idx", "token ids (B, T)", "leaf"),
        ("emb", "wte[idx] + wpe[0..T-1]\nembeddings (B, T, C)", "tensor"),
        ("blocks", f"Block x {n_layer}\n(pre-LN, residual)", "residual"),
        ("ln_f", "ln_f: LayerNorm", "norm"),
        ("head", "logits = x @ wte.T\n(B, T, V): tied head", "tensor"),
        ("soft", "softmax -> p(next token)\ncross-entropy vs idx shifted by 1", "op"),
    ]
    prev = None
    for i, (k, text, color) in enumerate(parts):
        ys[k] = box(ax, 0, i * 1.6, text, color=color, size=8)
        if prev is not None:
            arrow(ax, prev, ys[k])
        prev = ys[k]
    finish(ax, (-2.2, 2.2), (-0.8, 9.0), "the whole model")
    return ys


def _block_column(ax):
    """Right panel: x stays on the residual stream; each sublayer reads it and adds to it."""
    ax.plot([0, 0], [-0.2, 9.4], color="#c94c4c", lw=6, alpha=0.35, solid_capstyle="round")
    ax.text(0.15, 9.3, "residual stream x (B, T, C)", fontsize=8, color="#9b2d2d", va="bottom")
    x_in = box(ax, 0, -0.2, "x", color="residual", size=9)
    ln1 = box(ax, 2.2, 1.2, "ln_1: LayerNorm", color="norm", size=8)
    att = box(
        ax,
        2.2,
        2.8,
        "attn: causal self-attention\nc_attn -> q, k, v (B, H, T, hs)\nsoftmax(q k^T / sqrt(hs) + mask) v\nc_proj",
        color="attn",
        size=7,
    )
    add1 = box(ax, 0, 4.3, "+", color="residual", size=11, style="circle,pad=0.2")
    ln2 = box(ax, 2.2, 5.6, "ln_2: LayerNorm", color="norm", size=8)
    mlp = box(ax, 2.2, 7.1, "mlp: c_fc (C -> 4C)\nGELU\nc_proj (4C -> C)", color="mlp", size=7)
    add2 = box(ax, 0, 8.5, "+", color="residual", size=11, style="circle,pad=0.2")
    arrow(ax, (0, 0.8), ln1, rad=-0.2)
    arrow(ax, ln1, att)
    arrow(ax, att, add1, rad=0.2)
    arrow(ax, (0, 4.7), ln2, rad=-0.2)
    arrow(ax, ln2, mlp)
    arrow(ax, mlp, add2, rad=0.2)
    del x_in
    ax.text(-0.3, 2.2, "x = x + attn(ln_1(x))", fontsize=8, ha="right", rotation=90, va="center")
    ax.text(-0.3, 6.6, "x = x + mlp(ln_2(x))", fontsize=8, ha="right", rotation=90, va="center")
    finish(ax, (-1.2, 5.0), (-0.8, 9.8), "one block (pre-LN)")


def draw_transformer(n_layer=4):
    """Figure: the GPT from token ids to next-token probabilities, and one block's residual stream."""
    fig, axes = new_figure(11, 6.5, ncols=2, width_ratios=[1, 1.3])
    _model_column(axes[0, 0], n_layer)
    _block_column(axes[0, 1])
    return fig


def draw_training_loop():
    """Figure: one optimizer step as a cycle, with the npgpt call that does each part."""
    steps = [
        ("x, y = dataset.get_batch(...)\n(B, T) ids; y = x shifted by 1", "leaf"),
        ("logits, loss = model(x, y)\nforward: mean cross-entropy", "tensor"),
        ("loss.backward()\nevery .grad filled", "op"),
        ("clip_grad_norm_(params, 1.0)\nglobal norm <= 1", "norm"),
        ("set_lr(opt, schedule(step))\nwarmup + cosine", "mlp"),
        ("opt.step(); opt.zero_grad()\nAdamW update", "residual"),
    ]
    fig, ax = new_figure(8.5, 6.0)
    n, r = len(steps), 2.6
    boxes = []
    for i, (text, color) in enumerate(steps):
        a = math.pi / 2 - 2 * math.pi * i / n
        boxes.append(box(ax, 1.45 * r * math.cos(a), r * math.sin(a), text, color=color, size=8))
    for i in range(n):
        arrow(ax, boxes[i], boxes[(i + 1) % n], rad=-0.25)
    ax.text(0, 0.2, "one training step", ha="center", fontsize=11, weight="bold")
    ax.text(0, -0.35, "repeat max_steps times;\nevaluate every eval_interval", ha="center", fontsize=8)
    finish(ax, (-5.6, 5.6), (-3.6, 3.6), "the training loop (npgpt/train.py)")
    return fig
