"""``Module`` and ``Parameter``: how a network keeps track of its weights (PyTorch style).

A ``Parameter`` is a leaf ``Tensor`` with ``requires_grad=True``. A ``Module`` notices, in
``__setattr__``, when a Parameter or another Module is assigned to one of its attributes and
records it (in assignment order). That is all ``named_parameters()``, ``state_dict()``,
``load_state_dict()``, ``train()``/``eval()`` and ``to()`` need: they walk the tree of modules.

Buffers (``register_buffer``) are constant arrays a module needs (a sinusoidal table, RoPE's
cos/sin): ``to()`` moves and converts them, but they are not parameters and not in the state dict
(they are recomputed from the config, so a checkpoint never needs them).
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..backend import as_generator, check_device, get_array_module, to_device
from ..tensor import Tensor, array_of

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A learnable tensor: a leaf with ``requires_grad=True`` that a Module registers.

    ``Parameter(data, requires_grad=True, dtype=None, device=None)``; ``data`` is an array, a Tensor
    (its array is shared, not copied) or anything ``npgpt.tensor`` accepts.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None, device=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model.

    Subclasses assign Parameters and sub-Modules as attributes in ``__init__`` (after calling
    ``super().__init__()``) and define ``forward``; calling the module calls ``forward``.
    """

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = OrderedDict()  # name -> Parameter
        d["_modules"] = OrderedDict()  # name -> Module
        d["_buffers"] = OrderedDict()  # name -> array
        d["training"] = True

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for reg in (self._parameters, self._modules, self._buffers):
            reg.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            if value.name is None:
                value.name = name
        elif isinstance(value, Module):
            self._modules[name] = value
        # stored as a plain attribute too, so reading ``self.weight`` costs nothing extra
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for reg in (self._parameters, self._modules, self._buffers):
            reg.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, array):
        """A constant array (not learned, not in the state dict) that ``to()`` moves and converts."""
        self.__setattr__(name, array)
        self._buffers[name] = array

    # ----------------------------------------------------------------- traversal
    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_modules(self, prefix="", _seen=None):
        """(qualified name, module) for this module and every descendant, each module once."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix=""):
        """(qualified name, Parameter) in registration order; a shared Parameter appears once."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self):
        for mname, m in self.named_modules():
            for bname, b in m._buffers.items():
                yield (f"{mname}.{bname}" if mname else bname), b

    def num_parameters(self):
        """Number of scalars in all (distinct) parameters."""
        return sum(int(p.data.size) for p in self.parameters())

    # ----------------------------------------------------------------- modes and grads
    def train(self, mode=True):
        """Training mode (dropout active) for this module and all below it; returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Forget every parameter's gradient (``grad = None``)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    # ----------------------------------------------------------------- state dict
    def state_dict(self):
        """OrderedDict qualified name -> the parameter's array (not a copy)."""
        return OrderedDict((n, p.data) for n, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the existing parameters IN PLACE (optimizers holding them keep working).

        Values may be NumPy or CuPy arrays, Tensors, or anything ``numpy.asarray`` accepts; they are
        converted to the parameter's dtype and device. Every key is checked before anything is
        copied: mis-shaped keys always raise ValueError; with ``strict`` (default) missing and
        unexpected keys raise too, otherwise they are returned as ``(missing_keys, unexpected_keys)``.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mis_shaped = []
        for k, p in own.items():
            if k in state_dict:
                shape = tuple(np.shape(_array_of(state_dict[k])))
                if shape != p.shape:
                    mis_shaped.append(f"{k}: checkpoint {shape} vs model {p.shape}")
        if mis_shaped or (strict and (missing or unexpected)):
            title = f"{type(self).__name__}.load_state_dict: the state dict does not fit the model"
            raise ValueError(mismatch_report(title, missing, unexpected, mis_shaped))
        for k, p in own.items():
            if k in state_dict:
                src = _array_of(state_dict[k])
                src = to_device(src, p.device) if hasattr(src, "dtype") else np.asarray(src)
                xp = get_array_module(p.data)
                p.data[...] = xp.asarray(src).astype(p.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- device and dtype
    def to(self, device_or_dtype):
        """Move (``"cpu"``/``"cuda"``) or convert (``np.float64``) every parameter and buffer.

        The same Parameter objects are kept (their ``.data`` is rebound), so an optimizer built
        before the call still sees them; existing gradients are converted too. Returns self.
        """
        if isinstance(device_or_dtype, str):
            device = check_device(device_or_dtype)
            conv = lambda a: to_device(a, device)  # noqa: E731
            conv_buffer = conv
        else:
            dt = np.dtype(device_or_dtype)
            if dt.kind != "f":
                raise TypeError(f"Module.to: parameters must stay floating point, got {dt}")
            conv = lambda a: a if a.dtype == dt else a.astype(dt)  # noqa: E731
            conv_buffer = lambda a: conv(a) if a.dtype.kind == "f" else a  # noqa: E731  (int buffers stay)
        ### BEGIN SOLUTION 16.2
        for p in self.parameters():
            p.data = conv(p.data)
            if p.grad is not None:
                p.grad = conv(p.grad)
        for m in self.modules():
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m.register_buffer(name, conv_buffer(b))
        ### END SOLUTION 16.2
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ----------------------------------------------------------------- dropout generators
    def set_rng(self, rng):
        """Make every dropout in this module draw from ``rng`` (a Generator or an int seed).

        One shared generator makes a training run's dropout reproducible from one saved state.
        """
        rng = as_generator(rng)
        for m in self.modules():
            if hasattr(m, "_set_own_rng"):
                m._set_own_rng(rng)
        return self

    # ----------------------------------------------------------------- calling and printing
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        if extra:
            lines.insert(0, "  " + extra)
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def mismatch_report(title, missing, unexpected, mis_shaped):
    """``title`` and one line per kind of key that does not fit a model (lists of names; for
    mis-shaped keys, "name: what was found vs what was expected")."""
    lines = [title]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if mis_shaped:
        lines.append(f"  mis-shaped keys ({len(mis_shaped)}): " + "; ".join(mis_shaped))
    return "\n".join(lines)


def _array_of(v):
    """The array inside a Tensor (or a torch tensor, via NumPy), else the value itself."""
    if type(v).__module__.split(".")[0] == "torch":
        return v.detach().cpu().numpy()
    return array_of(v)


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", ... (as ``torch.nn.ModuleList``)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds Modules, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(items[i])
        return items[i]


class ModuleDict(Module):
    """Named sub-modules (as ``torch.nn.ModuleDict``); GPT's ``transformer`` is one."""

    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            setattr(self, k, m)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        setattr(self, key, module)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()
