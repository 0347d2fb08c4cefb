"""The op contract and the graph: read this first, then ``npgpt/ops/``, then ``npgpt/tensor.py``.

A ``Function`` is one op: a forward and a hand-written backward side by side, in the spirit of
``torch.autograd.Function``::

    class Log(Function):                    # y = ln x, dy/dx = 1/x
        @staticmethod
        def forward(ctx, x):                # arrays in, array out
            ctx.save_for_backward(x)        # every array backward needs goes through here
            return get_array_module(x).log(x)  # numpy or cupy, whichever holds x

        @staticmethod
        def backward(ctx, g):               # dL/dy in, one dL/dinput per input out
            (x,) = ctx.saved_tensors
            return (g / x,)

``Function.apply(*tensors, **options)`` runs ``forward`` on the tensors' arrays and, when a
gradient is needed, links the output to a ``Context`` that remembers the inputs. ``backward``
(called by ``Tensor.backward``) walks those links from the output back to the leaves, calling each
op's ``backward`` and summing the gradients of tensors used more than once.

This module imports no other part of the engine: the ops build on it, and ``Tensor`` on the ops.
"""

from __future__ import annotations

import functools
import time

from .backend import DeviceError, get_array_module

_grad_enabled = True
# None, or while ``npgpt.profiler.profile_ops()`` runs, its ``record(op name, phase, seconds)``:
# every op's forward and backward is then timed; otherwise the only cost is one ``is None`` check
_op_timer = None


def is_grad_enabled() -> bool:
    return _grad_enabled


class no_grad:
    """Context manager (and decorator) inside which ops build no graph and keep no references."""

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class Context:
    """What one op application remembers for its backward.

    ``saved_tensors``: the arrays the forward passed to ``save_for_backward``, the only way an array
    reaches the backward (plain metadata such as shapes and axes may be set as attributes);
    ``needs_input_grad``: one bool per input; a backward computes input i's gradient only when
    ``needs_input_grad[i]`` and returns None for it otherwise (an op with a single input needs no
    check: it is in the graph only because that input needs a gradient); ``fn``: the op;
    ``inputs``: the graph edges (a leaf tensor, or the ``Node`` of a computed one, per input).
    ``saved_tensors`` and ``inputs`` are cleared once backward has used them, unless the graph is
    retained, which frees the saved arrays.
    """

    __slots__ = ("saved_tensors", "needs_input_grad", "inputs", "fn", "__dict__")

    def __init__(self):
        self.saved_tensors = ()
        self.inputs = None
        self.fn = None

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """A computed tensor's place in the graph: its op's context, shape and dtype, but not its data.

    ``ctx.inputs`` lists a ``Node`` for each computed input and the tensor itself for each leaf.
    Linking through nodes instead of tensors means the graph keeps alive only what the ops saved
    for their backward (``ctx.saved_tensors``), not every intermediate array: an intermediate result
    nobody saved is freed as soon as the program drops it, as in PyTorch.
    """

    __slots__ = ("_ctx", "shape", "dtype", "__weakref__")
    requires_grad = True

    def __init__(self, ctx, shape, dtype):
        self._ctx, self.shape, self.dtype = ctx, tuple(shape), dtype

    def __repr__(self):
        return f"Node({self._ctx.fn.__name__ if self._ctx.fn else 'freed'}, shape={self.shape})"


class Function:
    """Base class of every differentiable op.

    Subclasses define ``forward(ctx, *arrays, **options) -> array`` and
    ``backward(ctx, grad) -> tuple`` (one gradient or None per tensor input, each of its input's
    shape). Options (an axis, ids, a mask) are passed to ``forward`` as given and get no gradient.
    ``npgpt.gradcheck_cases`` holds the examples every op is gradient-checked on.
    """

    # ops whose inputs may be integer arrays (they pass values through without arithmetic that
    # needs floats); every other op refuses integer inputs
    allow_int = False

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensors ``inputs``; return the output tensor, linked into the graph when a
        gradient is needed."""
        arrays = [t.data for t in inputs]
        a0 = arrays[0]
        for a in arrays:  # plain loops: this runs for every op, so it is kept cheap
            if type(a) is not type(a0) or a.dtype != a0.dtype:  # details only when something differs
                _check_compatible(cls.__name__, inputs, arrays)
            if a.dtype.kind != "f" and not cls.allow_int:
                raise TypeError(
                    f"{cls.__name__}: expected floating-point input, got dtype {a.dtype} "
                    f"(shape {tuple(a.shape)}); convert with .float() or build it with dtype=float32"
                )
        needs = tuple([t.requires_grad for t in inputs])
        ctx = Context()
        ctx.needs_input_grad = needs
        try:
            if _op_timer is None:
                out = cls.forward(ctx, *arrays, **kwargs)
            else:
                t = time.perf_counter()
                out = cls.forward(ctx, *arrays, **kwargs)
                _op_timer(cls.__name__, "forward", time.perf_counter() - t)
        except ValueError as e:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(f"{cls.__name__}: {e} (input shapes: {shapes})") from None
        track = _grad_enabled and True in needs
        # the output is made by the inputs' class (``_make`` always builds a plain Tensor): this
        # module sits below tensor.py in the import order and does not name the class
        result = inputs[0]._make(out, track)
        if track:
            ctx.inputs = tuple([t if t._ctx is None else t._graph_node() for t in inputs])
            ctx.fn = cls
            result._ctx = ctx
        return result


def _check_compatible(name, tensors, arrays):
    devs = {t.device for t in tensors}
    if len(devs) > 1:
        desc = ", ".join(f"{tuple(a.shape)} on {t.device}" for t, a in zip(tensors, arrays))
        raise DeviceError(f"{name}: inputs are on different devices ({desc}); move them with .to(device)")
    dts = {a.dtype for a in arrays if a.dtype.kind == "f"}
    if len(dts) > 1:
        desc = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in arrays)
        raise TypeError(
            f"{name}: inputs have different float dtypes ({desc}); npgpt never upcasts silently, "
            "convert one with .to(dtype)"
        )


# ----------------------------------------------------------------------- the backward pass
def backward(root, grad, retain_graph=False):
    """Accumulate d(root)/d(leaf) * ``grad`` into ``.grad`` of every leaf that requires grad.

    ``root`` is a tensor with a graph and ``grad`` an array of its shape (``Tensor.backward``
    checks both). The graph is walked from the output back to the leaves in reverse topological
    order; each context's saved arrays and edges are freed after use unless ``retain_graph``.
    """
    start = root if root._ctx is None else root._graph_node()
    grads = {id(start): grad}
    for node in _topological_order(start):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:  # a leaf: accumulate (copy first, g may be shared with other tensors)
            acc = g.astype(node.dtype, copy=True) if node.grad is None else node.grad + g
            # asarray: arithmetic on 0-d NumPy arrays gives NumPy scalars; .grad stays an array
            node.grad = get_array_module(node.data).asarray(acc)
            continue
        if _op_timer is None:
            in_grads = ctx.fn.backward(ctx, g)
        else:
            t = time.perf_counter()
            in_grads = ctx.fn.backward(ctx, g)
            _op_timer(ctx.fn.__name__, "backward", time.perf_counter() - t)
        if len(in_grads) != len(ctx.inputs):
            raise RuntimeError(
                f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradients for {len(ctx.inputs)} inputs"
            )
        for i, (inp, ig) in enumerate(zip(ctx.inputs, in_grads)):
            if ig is None or not inp.requires_grad:
                continue
            if ig.shape != inp.shape or ig.dtype != inp.dtype:
                # caught here, a wrong backward cannot silently broadcast or upcast downstream
                raise RuntimeError(
                    f"{ctx.fn.__name__}.backward returned a gradient of shape {tuple(ig.shape)} "
                    f"{ig.dtype} for input {i} of shape {inp.shape} {inp.dtype}"
                )
            k = id(inp)
            # never add in place: ``ig`` may alias the upstream gradient or another input's
            grads[k] = ig if k not in grads else grads[k] + ig
        if not retain_graph:
            ctx.saved_tensors, ctx.inputs = None, None


def _topological_order(root):
    """Graph nodes (``Node``s and leaf tensors) reachable from ``root`` that require grad, outputs
    first. Iterative depth-first search, so deep graphs never hit Python's recursion limit."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            if ctx.inputs is None:
                raise RuntimeError(
                    "backward(): trying to go backward through the graph a second time (its saved "
                    "values were freed by the first call); pass retain_graph=True the first time"
                )
            for inp in ctx.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    order.reverse()
    return order
