"""Drawing primitives shared by the diagrams: a bare figure, labelled boxes, arrows, grids of numbers.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot: no global backend switch, no
window, nothing to close; a notebook shows one when it is a cell's last value (``Diagram`` renders
itself as PNG for IPython, whatever the backend), and ``fig.savefig`` writes it to a file.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure


class Diagram(Figure):
    """A Figure that a notebook shows as a picture when it is a cell's value, with or without pyplot."""

    def _repr_png_(self):
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


# one palette for every diagram, so the same role has the same colour everywhere
COLORS = {
    "tensor": "#dbe9f6",
    "leaf": "#fde7c8",
    "op": "#e4f3e0",
    "residual": "#f6d8d8",
    "norm": "#efe3f7",
    "attn": "#d6ecf0",
    "mlp": "#fbf1c9",
    "masked": "#bbbbbb",
    "new": "#f4a259",
    "filled": "#8fb8de",
    "edge": "#444444",
}
HEAD_COLORS = ["#8fb8de", "#f4a259", "#9ccc8c", "#d99ad6", "#f2d06b", "#87cfc4", "#e58f8f", "#b3a6e0"]


def new_figure(width, height, ncols=1, nrows=1, **kw):
    """A (fig, axes) pair; axes are plain (no ticks, no frame) when ``blank`` is True (the default)."""
    blank = kw.pop("blank", True)
    fig = Diagram(figsize=(width, height), dpi=100, layout=kw.pop("layout", None))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    if blank:
        for ax in axes.flat:
            ax.set_axis_off()
    return fig, axes[0, 0] if nrows == ncols == 1 else axes


def box(ax, x, y, text, color="tensor", size=9, style="round,pad=0.4", **kw):
    """A text label in a coloured box centred at (x, y) (data coordinates); returns the Text artist."""
    fc = COLORS.get(color, color)
    return ax.text(
        x, y, text, ha="center", va="center", fontsize=size, bbox=dict(boxstyle=style, fc=fc, ec="#555555"), **kw
    )


def arrow(ax, src, dst, text=None, color=None, style="-|>", rad=0.0, **kw):
    """An arrow from ``src`` to ``dst``: points (x, y) or Text artists (then it joins their boxes)."""
    props = dict(
        arrowstyle=style, color=color or COLORS["edge"], shrinkA=4, shrinkB=4, connectionstyle=f"arc3,rad={rad}"
    )
    if not isinstance(src, tuple) and src.get_bbox_patch() is not None:
        props["patchA"] = src.get_bbox_patch()  # clip the arrow at the boxes' edges
    if not isinstance(dst, tuple) and dst.get_bbox_patch() is not None:
        props["patchB"] = dst.get_bbox_patch()
    props.update(kw)
    a = ax.annotate(
        "",
        xy=(0.5, 0.5) if not isinstance(dst, tuple) else dst,
        xycoords=dst if not isinstance(dst, tuple) else "data",
        xytext=(0.5, 0.5) if not isinstance(src, tuple) else src,
        textcoords=src if not isinstance(src, tuple) else "data",
        arrowprops=props,
    )
    if text:
        (x0, y0), (x1, y1) = _center(ax, src), _center(ax, dst)
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, text, fontsize=8, ha="center", va="bottom", color="#333333")
    return a


def _center(ax, thing):
    if isinstance(thing, tuple):
        return thing
    return thing.get_position()


def grid(ax, values, x0, y0, cell=1.0, colors=None, fmt="{:g}", size=8, alpha=None, hatch=None):
    """Draw a 2-D array as a grid of numbered cells, top-left corner at (x0, y0), rows going down.

    ``colors``: one colour or an array of colours per cell; ``alpha``: per-cell opacity (faded copies);
    ``hatch``: per-cell bool (hatched cells, e.g. masked ones). Returns the cell rectangles.
    """
    from matplotlib.patches import Rectangle

    values = np.asarray(values)
    rows, cols = values.shape
    rects = []
    for i in range(rows):
        for j in range(cols):
            c = colors if colors is None or isinstance(colors, str) else colors[i][j]
            a = 1.0 if alpha is None else float(np.asarray(alpha)[i, j])
            h = "//" if hatch is not None and np.asarray(hatch)[i, j] else None
            r = Rectangle(
                (x0 + j * cell, y0 - (i + 1) * cell),
                cell,
                cell,
                fc=COLORS.get(c, c) if c else "white",
                ec="#555555",
                alpha=a,
                hatch=h,
                lw=0.8,
            )
            ax.add_patch(r)
            rects.append(r)
            v = values[i, j]
            if fmt is not None and not (isinstance(v, float) and np.isnan(v)):
                txt = fmt.format(v) if not isinstance(v, str) else v
                ax.text(
                    x0 + (j + 0.5) * cell,
                    y0 - (i + 0.5) * cell,
                    txt,
                    ha="center",
                    va="center",
                    fontsize=size,
                    alpha=max(a, 0.35),
                )
    return rects


def finish(ax, xlim, ylim, title=None):
    """Fix the data limits of a diagram axis (equal aspect) and give it a title."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
