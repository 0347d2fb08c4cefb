"""All parameters laid end to end in one flat array, so one collective moves them all.

One big message is much cheaper than hundreds of small ones: each MPI or NCCL call has a fixed
start-up cost (microseconds), and a GPT has a few arrays per layer. ``FlatLayout`` records where
each parameter's numbers sit::

### BEGIN SOLUTION 17.1
    parameter i  <->  flat[offsets[i] : offsets[i] + sizes[i]]   (reshaped to shapes[i])
### END SOLUTION 17.1

and copies gradients or values in and out. The buffer may be padded with zeros at the end so its
length divides into equal shards (ZeRO gives each rank one shard).
"""

from __future__ import annotations

import math

from ..backend import get_array_module


class FlatLayout:
    """Offsets of ``params`` (objects with ``.data`` and ``.grad``) in one flat buffer.

    All parameters must share one dtype and one array module (NumPy or CuPy). ``numel`` is the
    number of parameter values; ``padded`` rounds it up to a multiple of ``multiple_of``.
    """

    def __init__(self, params, multiple_of=1):
        self.params = list(params)
        if not self.params:
            raise ValueError("FlatLayout: no parameters")
        dtypes = {p.data.dtype for p in self.params}
        modules = {get_array_module(p.data).__name__ for p in self.params}
        if len(dtypes) > 1 or len(modules) > 1:
            raise TypeError(f"FlatLayout: parameters mix dtypes {sorted(map(str, dtypes))} or arrays {sorted(modules)}")
        self.dtype = self.params[0].data.dtype
        self.xp = get_array_module(self.params[0].data)
        self.shapes = [p.data.shape for p in self.params]
        self.sizes = [p.data.size for p in self.params]
        ### BEGIN SOLUTION 17.1
        self.offsets = [0]
        for n in self.sizes[:-1]:
            self.offsets.append(self.offsets[-1] + n)
        self.numel = sum(self.sizes)
        self.padded = math.ceil(self.numel / multiple_of) * multiple_of
        ### END SOLUTION 17.1

    def zeros(self, size=None):
        """A new zero flat buffer of ``size`` numbers (default: ``padded``), same dtype and device."""
        return self.xp.zeros(self.padded if size is None else size, dtype=self.dtype)

    def view(self, buf, i):
        """Parameter ``i``'s part of ``buf``, shaped like the parameter (a view, no copy)."""
        ### BEGIN SOLUTION 17.1
        return buf[self.offsets[i] : self.offsets[i] + self.sizes[i]].reshape(self.shapes[i])
        ### END SOLUTION 17.1

    def pack_grads(self, buf):
        """Copy every ``p.grad`` into ``buf`` (a missing gradient counts as zeros)."""
        ### BEGIN SOLUTION 17.1
        for i, p in enumerate(self.params):
            if p.grad is None:
                self.view(buf, i)[...] = 0
            else:
                self.view(buf, i)[...] = p.grad
        ### END SOLUTION 17.1
        return buf

    def pack_data(self, buf):
        """Copy every ``p.data`` into ``buf``."""
        ### BEGIN SOLUTION 17.1
        for i, p in enumerate(self.params):
            self.view(buf, i)[...] = p.data
        ### END SOLUTION 17.1
        return buf

    def unpack_data(self, buf):
        """Copy ``buf`` back into every ``p.data``, in place (tied weights and views stay valid)."""
        ### BEGIN SOLUTION 17.1
        for i, p in enumerate(self.params):
            p.data[...] = self.view(buf, i)
        ### END SOLUTION 17.1
