"""The op contract: a ``Function`` is a forward and a hand-written backward, side by side.

In the spirit of ``torch.autograd.Function``::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # arrays in, array out
            y = xp.exp(x)
            ctx.save_for_backward(y)    # keep what backward needs
            return y

        @staticmethod
        def backward(ctx, g):           # dL/dy in, one dL/dinput per input out
            (y,) = ctx.saved
            return (g * y,)

``Function.apply(*tensors, **options)`` runs ``forward`` on the tensors' arrays and, when a
gradient is needed, links the output to a ``Context`` that remembers the inputs. ``Tensor.backward``
walks those links in reverse topological order and calls each ``backward``.
"""

from __future__ import annotations

import functools

_grad_enabled = True


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

    ``saved``: arrays saved by ``save_for_backward``; ``needs_input_grad``: one bool per input, so a
    backward can skip gradients nobody needs; ``fn``: the op; ``inputs``: the graph edges (a leaf
    tensor, or the ``Node`` of a computed one, per input), cleared (with ``saved``) once backward
    has used them, unless the graph is retained.
    """

    __slots__ = ("saved", "needs_input_grad", "inputs", "fn", "__dict__")

    def __init__(self):
        self.saved = ()
        self.inputs = None
        self.fn = None

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Node:
    """A computed tensor's place in the graph: its op's context, shape and dtype, but not its data.

    ``ctx.inputs`` lists a ``Node`` for each computed input and the tensor itself for each leaf.
    Linking through nodes instead of tensors means the graph keeps alive only what the ops saved
    for their backward (``ctx.saved``), not every intermediate array: an intermediate result
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
    shape). ``npgpt.gradcheck_cases`` holds the examples every op is gradient-checked on.
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
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(f"{cls.__name__}: {e} (input shapes: {shapes})") from None
        track = _grad_enabled and True in needs
        result = (_Tensor or _tensor_class())._make(out, track)
        if track:
            ctx.inputs = tuple([t if t._ctx is None else t._graph_node() for t in inputs])
            ctx.fn = cls
            result._ctx = ctx
        return result


def _tensor_class():
    """``Tensor``, imported on first use (tensor.py imports this module)."""
    global _Tensor
    if _Tensor is None:
        from .tensor import Tensor

        _Tensor = Tensor
    return _Tensor


_Tensor = None


def _check_compatible(name, tensors, arrays):
    devs = {t.device for t in tensors}
    if len(devs) > 1:
        from .backend import DeviceError

        desc = ", ".join(f"{tuple(a.shape)} on {t.device}" for t, a in zip(tensors, arrays))
        raise DeviceError(f"{name}: inputs are on different devices ({desc}); move them with .to(device)")
    dts = {a.dtype for a in arrays if a.dtype.kind == "f"}
    if len(dts) > 1:
        desc = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in arrays)
        raise TypeError(
            f"{name}: inputs have different float dtypes ({desc}); npgpt never upcasts silently, "
            "convert one with .to(dtype)"
        )


def array_of(x):
    """The array inside a Tensor, or ``x`` itself (an array, list or number).

    (Not ``getattr(x, "data", x)``: NumPy and CuPy arrays have a ``.data`` buffer attribute too.)
    """
    from .tensor import Tensor

    return x.data if isinstance(x, Tensor) else x
