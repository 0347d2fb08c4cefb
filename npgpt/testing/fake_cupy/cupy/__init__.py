"""A stand-in for CuPy, backed by NumPy, as strict as CuPy where code goes wrong on a GPU.

``python -m npgpt.testing.fake_gpu`` puts this folder first on the path, so ``import cupy`` finds it
and ``device="cuda"`` runs on the CPU (``npgpt/testing/__init__.py`` says why). Its numbers are
NumPy's. What CuPy refuses, it refuses too, with CuPy's messages:

- converting a device array to NumPy implicitly (``np.asarray(a)``, ``np.exp(a)``, any NumPy
  function or ufunc given a device array): only ``.get()`` and ``cupy.asnumpy`` copy to the host;
- mixing a device array and a NumPy array in one operation (``a + np_array``, ``cupy.where(m,
  a, np_array)``); Python and NumPy *scalars* are fine, as in CuPy;
- reading a device value on the host (``.get()``, ``.item()``, ``float(a)``, ``bool(a)``) inside
  ``cupyx.allow_synchronize(False)``;
- a function, array method or random method that CuPy does not have: only the names CuPy 14.2 has
  are lent (``_names.py``, ``_core.METHODS``, ``random.METHODS``).

Device arrays report ``cupy`` as their module, so ``npgpt.backend.get_array_module`` takes them for
CuPy's. There is no NCCL: ``cupy.cuda.nccl`` does not import, as on a CuPy built without it. What it
cannot tell: whether CuPy's version of a function matches NumPy's in every corner, and nothing about
kernels, memory or speed; those need a real GPU (``tools/gpu_check.sh``).
"""

from __future__ import annotations

import numpy as _np

from . import cuda, random  # noqa: F401  (cupy.cuda and cupy.random, as in CuPy)
from ._core import ndarray, strict_call, unwrap, wrap
from ._core import ufunc as _ufunc
from ._names import NAMES

__version__ = "0.0.0+fake-numpy"
newaxis = None


def asarray(a, dtype=None):
    """Host (or device) data to a device array: the one door in, as ``cupy.asarray``."""
    if isinstance(a, ndarray) and (dtype is None or _np.dtype(dtype) == a.dtype):
        return a
    return wrap(_np.array(unwrap(a, host_ok=True), dtype=dtype))


def array(a, dtype=None, copy=True):
    return wrap(_np.array(unwrap(a, host_ok=True), dtype=dtype, copy=copy))


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else _np.asarray(a)


def get_array_module(*args):
    import sys

    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


def __getattr__(name):
    """Everything else CuPy has is NumPy's, made strict: dtypes and constants as they are,
    functions and ufuncs taking device arrays only (and returning them)."""
    if name not in NAMES:
        raise AttributeError(f"module 'cupy' has no attribute {name!r}")
    obj = getattr(_np, name)
    if isinstance(obj, _np.ufunc):
        return _ufunc(obj)
    if isinstance(obj, type) or not callable(obj):  # dtypes (cupy.float32 is numpy.float32), pi, inf
        return obj
    return strict_call(obj, name)
