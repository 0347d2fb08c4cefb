"""The autograd graph of a Tensor result, found by walking from the output and drawn left to right.

The walk uses only the graph's edges: a computed tensor's ``_ctx`` (the op's context), the
context's ``fn`` (the op class) and ``inputs`` (a graph node per input: the leaf tensor itself,
or a ``Node`` with its own ``_ctx``). Values are boxes (leaves orange, computed ones blue), ops
are green; an arrow means "is an input of". ``backward()`` visits the same graph right to left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._draw import arrow, box, new_figure


@dataclass
class GraphNode:
    """One vertex of the drawn graph: a value (``kind`` "leaf" or "value") or an "op"."""

    key: int
    kind: str
    label: str
    inputs: list = field(default_factory=list)  # keys of the vertices that feed this one


def _value_label(v, is_output):
    shape = tuple(getattr(v, "shape", ()))
    name = getattr(v, "name", None)
    if name:
        head = name.split(".")[-1] if len(name) > 12 else name
    elif is_output:
        head = "output"
    elif getattr(v, "_ctx", None) is None:
        data = getattr(v, "data", None)
        head = f"{float(data.reshape(-1)[0]):.3g}" if data is not None and data.size == 1 else "leaf"
    else:
        head = ""
    text = f"{head}\n{shape}" if head else f"{shape}"
    return text.replace("()", "scalar")


def trace(output):
    """The graph of ``output`` as a dict key -> ``GraphNode`` (in the order the walk met them).

    ``output`` must be a Tensor made by ops while gradients were recorded (else it is one leaf).
    """
    nodes, stack = {}, [(output, True)]
    while stack:
        v, is_output = stack.pop()
        if id(v) in nodes:
            continue
        ctx = getattr(v, "_ctx", None)
        vnode = GraphNode(id(v), "leaf" if ctx is None else "value", _value_label(v, is_output))
        nodes[id(v)] = vnode
        if ctx is None:
            continue
        inputs = getattr(ctx, "inputs", None)
        if inputs is None:
            raise RuntimeError("trace: this graph was freed by backward(); draw it before, or use retain_graph=True")
        fn = getattr(ctx, "fn", None)
        op = GraphNode(id(ctx), "op", getattr(fn, "__name__", "op"), [id(i) for i in inputs])
        vnode.inputs = [op.key]
        nodes[op.key] = op
        stack.extend((i, False) for i in reversed(inputs))
    return nodes


def _layers(nodes, out_key):
    """Column of each vertex: its longest distance from the output (output in column 0)."""
    depth = {out_key: 0}
    order = list(nodes)  # the walk met every consumer before... not always: relax until stable
    changed = True
    while changed:
        changed = False
        for k in order:
            if k not in depth:
                continue
            for i in nodes[k].inputs:
                if depth.get(i, -1) < depth[k] + 1:
                    depth[i] = depth[k] + 1
                    changed = True
    return depth


def _place(nodes, depth):
    """(x, y) per vertex: x from the column, y ordered by the mean height of its consumers."""
    consumers = {k: [] for k in nodes}
    for k, n in nodes.items():
        for i in n.inputs:
            consumers[i].append(k)
    pos = {}
    for d in range(max(depth.values()) + 1):
        col = [k for k in nodes if depth[k] == d]
        want = {k: sum(pos[c][1] for c in consumers[k]) / len(consumers[k]) if consumers[k] else 0.0 for k in col}
        col.sort(key=lambda k: want[k])
        for j, k in enumerate(col):
            pos[k] = (-d * 1.6, (j - (len(col) - 1) / 2) * 1.2 + (sum(want.values()) / len(col) if d else 0.0))
    return pos


def draw_graph(output, title=None):
    """Draw the autograd graph that produced ``output``; returns the Figure.

    Example::

        x = npgpt.tensor([1.0, 2.0], requires_grad=True); x.name = "x"
        draw_graph((x * x).sum())   # x -> Mul -> Sum -> output
    """
    nodes = trace(output)
    depth = _layers(nodes, id(output))
    pos = _place(nodes, depth)
    ncols = max(depth.values()) + 1
    per_col = max(sum(1 for d in depth.values() if d == c) for c in range(ncols))
    fig, ax = new_figure(min(16.0, max(3.0, 1.2 * ncols)), max(1.8, 0.9 * per_col + 0.6))
    artists = {}
    for k, n in nodes.items():
        color = {"leaf": "leaf", "value": "tensor", "op": "op"}[n.kind]
        style = "round4,pad=0.35" if n.kind == "op" else "round,pad=0.3"
        artists[k] = box(ax, *pos[k], n.label, color=color, size=8, style=style, gid=f"{n.kind}:{n.label}")
    for k, n in nodes.items():
        for i in n.inputs:
            skip = depth[i] - depth[k] > 1  # an edge that jumps columns bends around the ones between
            arrow(ax, artists[i], artists[k], rad=-0.35 if skip else 0.0)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_title(title or f"autograd graph: {sum(n.kind == 'op' for n in nodes.values())} ops", fontsize=10)
    return fig
