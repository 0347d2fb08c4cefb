"""``Tensor``: an array (NumPy or CuPy) plus what reverse-mode autograd needs.

A tensor made by an op remembers, in ``_ctx``, the op and its inputs. ``backward()`` orders the graph
topologically (iteratively, so deep graphs never hit Python's recursion limit), then walks it from
the output back to the leaves, calling each op's hand-written backward and summing the gradients
of tensors that were used more than once.

``.grad`` of a leaf is a plain array of the leaf's module, shape and dtype. Like PyTorch's, it
*accumulates* over ``backward()`` calls until it is reset (``t.grad = None`` or an optimizer's
``zero_grad()``), which is what lets gradients of several micro-batches add up.
"""

from __future__ import annotations

import numpy as np

from . import autograd
from .backend import DeviceError, check_device, device_of, get_array_module, to_device, xp_for_device

DEFAULT_DTYPE = np.float32


def _to_array(data, dtype, device):
    if isinstance(data, Tensor):
        data = data.data
    if device is None:
        device = device_of(data) if not isinstance(data, (list, tuple)) else "cpu"
    xp = xp_for_device(check_device(device))
    if dtype is None and not hasattr(data, "dtype"):
        probe = np.asarray(data)
        dtype = DEFAULT_DTYPE if probe.dtype.kind == "f" else probe.dtype
    if hasattr(data, "dtype") and device_of(data) != device:
        data = to_device(data, device)
    return xp.asarray(data, dtype=dtype)


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` is an array, a number or
    a nested list; lists and numbers of floats become float32; arrays keep their dtype unless
    ``dtype`` is given. ``device`` is "cpu" (NumPy) or "cuda" (CuPy).
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "_node", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, device=None, name=None):
        self.data = _to_array(data, dtype, device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._node = None
        self.name = name

    @classmethod
    def _make(cls, data, requires_grad):
        """Fast path for op outputs: no conversion, no checks."""
        t = cls.__new__(cls)
        t.data, t.requires_grad, t.grad, t._ctx, t._node, t.name = data, requires_grad, None, None, None, None
        return t

    def _graph_node(self):
        """This computed tensor's ``Node`` (made once, so a tensor used twice is one node)."""
        if self._node is None:
            self._node = autograd.Node(self._ctx, self.data.shape, self.data.dtype)
        return self._node

    # ----------------------------------------------------------------- properties
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: device_of(self.data))
    is_leaf = property(lambda self: self._ctx is None)
    T = property(lambda self: self.transpose())

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.numpy(), precision=4, separator=", ", threshold=20)
        extra = f", device='{self.device}'" if self.device != "cpu" else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        extra += f", dtype={self.dtype}" if self.dtype != DEFAULT_DTYPE else ""
        return f"tensor({body}{extra})"

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    __hash__ = object.__hash__  # comparisons return tensors, identity stays the hash

    # ----------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if needed; shares memory on the CPU)."""
        return to_device(self.data, "cpu")

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): tensor has {self.data.size} elements, expected exactly 1")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """A new leaf sharing this tensor's data, outside any graph."""
        return Tensor._make(self.data, False)

    def to(self, device_or_dtype):
        """``t.to("cuda")``, ``t.to("cpu")`` or ``t.to(np.float64)``: a copy, differentiable."""
        from .ops.shape import ToDevice, ToDtype

        if isinstance(device_or_dtype, str) and device_or_dtype in ("cpu", "cuda"):
            if device_or_dtype == self.device:
                return self
            return ToDevice.apply(self, device=device_or_dtype)
        try:
            dt = np.dtype(device_or_dtype)
        except TypeError:
            raise DeviceError(f"to(): {device_or_dtype!r} is neither a device ('cpu', 'cuda') nor a dtype") from None
        return self if dt == self.dtype else ToDtype.apply(self, dtype=dt)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def requires_grad_(self, flag=True):
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = flag
        return self

    # ----------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) * grad into ``.grad`` of every leaf that requires grad.

        ``grad`` defaults to 1 for a one-element tensor. The graph is freed afterwards (so a second
        call raises) unless ``retain_graph=True``. Neither inputs nor ``grad`` are modified.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be omitted only for one-element outputs, not shape {self.shape}"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=self.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward(): grad shape {tuple(grad.shape)} != tensor shape {self.shape}")

        root = self if self._ctx is None else self._graph_node()
        grads = {id(root): grad}
        for node in _topological_order(root):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None:  # a leaf: accumulate (copy first, g may be shared with other tensors)
                acc = g.astype(node.dtype, copy=True) if node.grad is None else node.grad + g
                # asarray: arithmetic on 0-d NumPy arrays gives NumPy scalars; .grad stays an array
                node.grad = get_array_module(node.data).asarray(acc)
                continue
            in_grads = ctx.fn.backward(ctx, g)
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
                ctx.saved, ctx.inputs = None, None


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


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Make a leaf tensor (see ``Tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _lift(x, like: Tensor) -> Tensor:
    """Wrap a Python number or array as a constant tensor matching ``like``'s dtype and device."""
    if isinstance(x, Tensor):
        return x
    xp = get_array_module(like.data)
    dt = like.dtype if like.dtype.kind == "f" else None
    return Tensor._make(xp.asarray(x, dtype=dt), False)


def _compare(op):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(op(self.data, other), False)

    return method


def _install_methods():
    """Operators and methods that call the ops in ``npgpt.functional`` (where their math lives)."""
    import operator

    from . import functional as F

    T = Tensor
    T.__add__ = lambda a, b: F.add(a, b)
    T.__radd__ = lambda a, b: F.add(b, a)
    T.__sub__ = lambda a, b: F.sub(a, b)
    T.__rsub__ = lambda a, b: F.sub(b, a)
    T.__mul__ = lambda a, b: F.mul(a, b)
    T.__rmul__ = lambda a, b: F.mul(b, a)
    T.__truediv__ = lambda a, b: F.div(a, b)
    T.__rtruediv__ = lambda a, b: F.div(b, a)
    T.__pow__ = lambda a, b: F.pow(a, b)
    T.__rpow__ = lambda a, b: F.pow(_lift(b, a), a)
    T.__matmul__ = lambda a, b: F.matmul(a, b)
    T.__rmatmul__ = lambda a, b: F.matmul(b, a)
    T.__neg__ = lambda a: F.neg(a)
    T.__getitem__ = lambda a, idx: F.getitem(a, idx)
    for name, op in [
        ("lt", operator.lt),
        ("le", operator.le),
        ("gt", operator.gt),
        ("ge", operator.ge),
        ("eq", operator.eq),
        ("ne", operator.ne),
    ]:
        setattr(T, f"__{name}__", _compare(op))
    for name in [
        "exp",
        "log",
        "sqrt",
        "tanh",
        "sigmoid",
        "relu",
        "gelu",
        "sum",
        "mean",
        "var",
        "max",
        "reshape",
        "transpose",
        "permute",
        "swapaxes",
        "softmax",
        "log_softmax",
        "masked_fill",
        "split",
    ]:
        setattr(T, name, getattr(F, name))
    T.view = F.reshape


_install_methods()


def argmax(self, axis=None, keepdims=False):
    """Index of the largest value (a plain, non-differentiable integer tensor)."""
    return Tensor._make(self.data.argmax(axis=axis, keepdims=keepdims), False)


Tensor.argmax = argmax
