"""``Tensor``: an array (NumPy or CuPy) plus what reverse-mode autograd needs.

Every operator and method of a tensor is written in the class body and calls one op of
``npgpt.ops`` (``a + b`` is ``Add.apply(a, b)``), where its forward and backward live. A tensor
made by an op remembers, in ``_ctx``, the op and its inputs; ``backward()`` hands the graph to
``npgpt.autograd.backward``, which walks it from the output back to the leaves.

``.grad`` of a leaf is a plain array of the leaf's module, shape and dtype. Like PyTorch's, it
*accumulates* over ``backward()`` calls until it is reset (``t.grad = None`` or an optimizer's
``zero_grad()``), which is what lets gradients of several micro-batches add up.
"""

from __future__ import annotations

import numpy as np

from . import autograd
from .backend import DeviceError, check_device, device_of, get_array_module, to_device, xp_for_device
from .ops.elementwise import GELU, Add, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub, Tanh
from .ops.matmul import MatMul
from .ops.reduce import Max, Mean, Sum, Var
from .ops.select import MaskedFill
from .ops.shape import GetItem, Reshape, ToDevice, ToDtype, Transpose
from .ops.softmax import LogSoftmax, Softmax

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

    @staticmethod
    def _make(data, requires_grad):
        """Fast path for op outputs: a plain Tensor (never a subclass), no conversion, no checks."""
        t = Tensor.__new__(Tensor)
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

    def __bool__(self):
        """As PyTorch: a one-element tensor converts; a larger (or empty) one is ambiguous."""
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "reduce it first, e.g. bool((a == b).numpy().all())"
            )
        return bool(self.item())

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
        autograd.backward(self, grad, retain_graph)

    # ----------------------------------------------------------------- arithmetic (npgpt/ops/elementwise.py)
    def __add__(self, other):
        return Add.apply(self, _lift(other, self))

    def __radd__(self, other):
        return Add.apply(_lift(other, self), self)

    def __sub__(self, other):
        return Sub.apply(self, _lift(other, self))

    def __rsub__(self, other):
        return Sub.apply(_lift(other, self), self)

    def __mul__(self, other):
        return Mul.apply(self, _lift(other, self))

    def __rmul__(self, other):
        return Mul.apply(_lift(other, self), self)

    def __truediv__(self, other):
        return Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other):
        return Div.apply(_lift(other, self), self)

    def __pow__(self, other):
        """A Python-number exponent is a constant; a tensor exponent gets a gradient."""
        if isinstance(other, (int, float)):
            return Pow.apply(self, exponent=other)
        return Pow.apply(self, _lift(other, self))

    def __rpow__(self, other):
        return Pow.apply(_lift(other, self), self)

    def __neg__(self):
        return Neg.apply(self)

    def __matmul__(self, other):  # npgpt/ops/matmul.py
        return MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other):
        return MatMul.apply(_lift(other, self), self)

    # ----------------------------------------------------------------- comparisons (no gradient)
    def __lt__(self, other):
        return Tensor._make(self.data < array_of(other), False)

    def __le__(self, other):
        return Tensor._make(self.data <= array_of(other), False)

    def __gt__(self, other):
        return Tensor._make(self.data > array_of(other), False)

    def __ge__(self, other):
        return Tensor._make(self.data >= array_of(other), False)

    def __eq__(self, other):
        return Tensor._make(self.data == array_of(other), False)

    def __ne__(self, other):
        return Tensor._make(self.data != array_of(other), False)

    def argmax(self, axis=None, keepdims=False):
        """Index of the largest value (a plain, non-differentiable integer tensor)."""
        return Tensor._make(self.data.argmax(axis=axis, keepdims=keepdims), False)

    # ----------------------------------------------------------------- unary functions
    def exp(self):
        return Exp.apply(self)

    def log(self):
        return Log.apply(self)

    def sqrt(self):
        return Sqrt.apply(self)

    def tanh(self):
        return Tanh.apply(self)

    def sigmoid(self):
        return Sigmoid.apply(self)

    def relu(self):
        return ReLU.apply(self)

    def gelu(self, approximate="tanh"):
        """GELU; ``approximate="tanh"`` is GPT-2's form, ``"none"`` the exact erf form."""
        return GELU.apply(self, approximate=approximate)

    # ----------------------------------------------------------------- reductions (npgpt/ops/reduce.py)
    def sum(self, axis=None, keepdims=False):
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, correction=0):
        """Variance; biased (correction=0) by default, pass correction=1 for the unbiased one."""
        return Var.apply(self, axis=axis, keepdims=keepdims, correction=correction)

    def max(self, axis=None, keepdims=False):
        return Max.apply(self, axis=axis, keepdims=keepdims)

    # ----------------------------------------------------------------- shapes (npgpt/ops/shape.py)
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, shape=shape)

    view = reshape

    def transpose(self, *axes):
        """``transpose()`` reverses the axes; ``transpose(a, b)`` swaps two axes (as PyTorch);
        ``transpose((2, 0, 1))`` applies a permutation (as NumPy)."""
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return self.swapaxes(*axes)
        if len(axes) == 1:
            axes = axes[0]
        return Transpose.apply(self, axes=tuple(axes) if axes else None)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(self, axes=axes)

    def swapaxes(self, a, b):
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return Transpose.apply(self, axes=tuple(axes))

    def __getitem__(self, index):
        """Basic slicing or integer/boolean array indexing; tensors in the index act as arrays."""
        if isinstance(index, tuple):
            index = tuple(array_of(i) for i in index)
        else:
            index = array_of(index)
        return GetItem.apply(self, index=index)

    def split(self, size_or_sizes, axis=-1):
        """Split along ``axis`` into pieces of ``size`` (an int) or of the given sizes (a list)."""
        n = self.shape[axis]
        sizes = [size_or_sizes] * (n // size_or_sizes) if isinstance(size_or_sizes, int) else list(size_or_sizes)
        if isinstance(size_or_sizes, int) and n % size_or_sizes:
            sizes.append(n % size_or_sizes)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (axis {axis} of shape {self.shape})")
        out, start = [], 0
        ax = axis % self.ndim
        for s in sizes:
            out.append(self[(slice(None),) * ax + (slice(start, start + s),)])
            start += s
        return out

    # ----------------------------------------------------------------- neural-network ops
    def softmax(self, axis=-1):
        return Softmax.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        return LogSoftmax.apply(self, axis=axis)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` (a boolean array or tensor, broadcast to self) is True."""
        return MaskedFill.apply(self, mask=array_of(mask), value=value)


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Make a leaf tensor (see ``Tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def array_of(x):
    """The array inside a Tensor, or ``x`` itself (an array, list or number).

    (Not ``getattr(x, "data", x)``: NumPy and CuPy arrays have a ``.data`` buffer attribute too.)
    """
    return x.data if isinstance(x, Tensor) else x


def _lift(x, like: Tensor) -> Tensor:
    """Wrap a Python number or array as a constant tensor matching ``like``'s dtype and device."""
    if isinstance(x, Tensor):
        return x
    xp = get_array_module(like.data)
    dt = like.dtype if like.dtype.kind == "f" else None
    return Tensor._make(xp.asarray(x, dtype=dt), False)
