"""The device array of the stand-in CuPy: a NumPy array behind a wall NumPy cannot see through."""

from __future__ import annotations

import operator

import numpy as np

# the methods of cupy.ndarray (CuPy 14.2) that NumPy's ndarray has too; the rest raise AttributeError
METHODS = frozenset(
    """all any argmax argmin argpartition argsort astype byteswap choose clip compress conj conjugate copy
    cumprod cumsum diagonal dot dump dumps fill flatten max mean min nonzero partition prod ptp put ravel
    repeat reshape round searchsorted sort squeeze std sum swapaxes take tobytes tofile trace transpose
    var view""".split()
)

SYNC = {"allowed": True}  # cupyx.allow_synchronize(False) sets it to False

IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
)


def _sync(what):
    if not SYNC["allowed"]:
        raise RuntimeError(f"Synchronization is not allowed here ({what}: a device-to-host copy)")


def unwrap(x, host_ok=False):
    """The NumPy array behind a device array; NumPy arrays refused unless ``host_ok`` (as CuPy does)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray) and not host_ok:
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)) and not host_ok:
        return type(x)(unwrap(v) for v in x)
    return x


def wrap(x):
    """NumPy results back to the device: arrays and NumPy scalars (CuPy's reductions give 0-d arrays)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(wrap(v) for v in x)
    if isinstance(x, list):
        return [wrap(v) for v in x]
    return x


def _unwrap_kwargs(kwargs):
    return {k: unwrap(v) for k, v in kwargs.items()}


def strict_call(fn, name):
    def call(*args, **kwargs):
        return wrap(fn(*(unwrap(a) for a in args), **_unwrap_kwargs(kwargs)))

    call.__name__ = name
    return call


class ufunc:
    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return wrap(self._uf(*(unwrap(a) for a in args), **_unwrap_kwargs(kwargs)))

    def at(self, a, indices, b=None):
        index = _index(indices)  # as in a[indices]: NumPy integer arrays are copied over
        args = (unwrap(a), index) if b is None else (unwrap(a), index, unwrap(b))
        self._uf.at(*args)


def _binary(op, reflected=False):
    def method(self, other):
        if isinstance(other, np.ndarray):
            raise TypeError(f"Unsupported type {type(other)}")
        other = unwrap(other)
        return wrap(op(other, self._a) if reflected else op(self._a, other))

    return method


def _inplace(op):
    def method(self, other):
        op(self._a, unwrap(other))
        return self

    return method


class ndarray:
    """A device array: NumPy inside, and NumPy cannot convert it (``__array__`` refuses)."""

    __array_ufunc__ = None  # NumPy's operators defer to ours; np.exp(a) raises TypeError
    __module__ = "cupy"

    def __init__(self, a):
        self._a = a

    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} on a device array: {IMPLICIT}")

    # what the host may read, and how
    def get(self, stream=None, order="C", out=None):
        _sync(".get()")
        return self._a.copy()

    def set(self, arr, stream=None):
        """Host to device, in place (``a.set(host_array)``): the same shape and dtype, as CuPy wants."""
        if arr.shape != self.shape or arr.dtype != self.dtype:
            raise ValueError(f"Shape/dtype mismatch: {arr.shape} {arr.dtype} into {self.shape} {self.dtype}")
        self._a[...] = arr

    def item(self):
        _sync(".item()")
        return self._a.item()

    def tolist(self):
        _sync(".tolist()")
        return self._a.tolist()

    def __float__(self):
        _sync("float()")
        return float(self._a)

    def __int__(self):
        _sync("int()")
        return int(self._a)

    def __index__(self):
        _sync("an index")
        return operator.index(self._a)

    def __bool__(self):
        _sync("bool()")
        return bool(self._a)

    def __repr__(self):
        return repr(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (wrap(v) for v in self._a)

    # attributes and methods: NumPy's, on device arrays
    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self):
        return self._a.flags

    @property
    def T(self):  # noqa: N802
        return ndarray(self._a.T)

    @property
    def base(self):
        return None if self._a.base is None else ndarray(self._a.base)

    def __getattr__(self, name):
        if name not in METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        return strict_call(getattr(self._a, name), name)

    def __getitem__(self, index):
        return wrap(self._a[_index(index)])

    def __setitem__(self, index, value):
        if isinstance(value, np.ndarray) and value.ndim > 0:
            raise TypeError(f"Unsupported type {type(value)}")
        self._a[_index(index)] = unwrap(value, host_ok=True)

    __add__, __radd__ = _binary(operator.add), _binary(operator.add, True)
    __sub__, __rsub__ = _binary(operator.sub), _binary(operator.sub, True)
    __mul__, __rmul__ = _binary(operator.mul), _binary(operator.mul, True)
    __truediv__, __rtruediv__ = _binary(operator.truediv), _binary(operator.truediv, True)
    __floordiv__, __rfloordiv__ = _binary(operator.floordiv), _binary(operator.floordiv, True)
    __mod__, __rmod__ = _binary(operator.mod), _binary(operator.mod, True)
    __pow__, __rpow__ = _binary(operator.pow), _binary(operator.pow, True)
    __matmul__, __rmatmul__ = _binary(operator.matmul), _binary(operator.matmul, True)
    __and__, __rand__ = _binary(operator.and_), _binary(operator.and_, True)
    __or__, __ror__ = _binary(operator.or_), _binary(operator.or_, True)
    __xor__, __rxor__ = _binary(operator.xor), _binary(operator.xor, True)
    __lt__, __le__ = _binary(operator.lt), _binary(operator.le)
    __gt__, __ge__ = _binary(operator.gt), _binary(operator.ge)
    __eq__, __ne__ = _binary(operator.eq), _binary(operator.ne)
    __iadd__, __isub__ = _inplace(operator.iadd), _inplace(operator.isub)
    __imul__, __itruediv__ = _inplace(operator.imul), _inplace(operator.itruediv)
    __ipow__ = _inplace(operator.ipow)  # (CuPy has no in-place @=)
    __iand__, __ior__ = _inplace(operator.iand), _inplace(operator.ior)
    __hash__ = None

    def __neg__(self):
        return ndarray(-self._a)

    def __pos__(self):
        return ndarray(+self._a)

    def __abs__(self):
        return ndarray(abs(self._a))

    def __invert__(self):
        return ndarray(~self._a)


def _index(index):
    """An index may hold device arrays, and NumPy integer arrays too (CuPy copies those over)."""
    if isinstance(index, tuple):
        return tuple(unwrap(i, host_ok=True) for i in index)
    return unwrap(index, host_ok=True)
