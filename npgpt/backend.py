"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op takes its array module (``xp``) from its inputs, so the same code runs on both. CuPy is
imported only when a CUDA array or device is actually asked for, never at module load.
"""

from __future__ import annotations

import numpy as np

DEVICES = ("cpu", "cuda")

_INSTALL_HINT = (
    "install the GPU extra that matches your CUDA version, e.g. "
    "`pip install 'npgpt[cuda12]'` (cupy-cuda12x) or `pip install 'npgpt[cuda13]'` (cupy-cuda13x)"
)


class DeviceError(RuntimeError):
    """Raised when a device is unknown, unavailable, or devices are mixed in one op."""


def cupy_module():
    """Import and return CuPy, or raise a DeviceError that says how to get it."""
    try:
        import cupy
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise DeviceError(f"device 'cuda' needs CuPy, which is not installed: {_INSTALL_HINT}") from e
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # pragma: no cover - depends on the machine
        raise DeviceError(f"device 'cuda' asked for, but CuPy finds no usable GPU ({e})") from e
    if n == 0:  # pragma: no cover
        raise DeviceError("device 'cuda' asked for, but CuPy finds no GPU")
    return cupy


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU (never raises)."""
    try:
        cupy_module()
        return True
    except DeviceError:
        return False


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: expected one of {DEVICES}")
    return device


def xp_for_device(device: str):
    """The array module that holds arrays on ``device``."""
    return np if check_device(device) == "cpu" else cupy_module()


def get_array_module(a):
    """numpy for NumPy arrays (and Python scalars), cupy for CuPy arrays."""
    if isinstance(a, (np.ndarray, np.generic, int, float, bool)):
        return np
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy  # already imported: an array of it exists

        return cupy
    return np


def as_generator(rng, xp=np):
    """A random Generator of array module ``xp`` from a Generator, an int seed, or None (fresh entropy).

    The one place a seed becomes a generator. A Generator passes through unchanged (a CuPy one for
    CuPy arrays: CuPy cannot draw from NumPy's).
    """
    if rng is None or isinstance(rng, (int, np.integer)):
        return xp.random.default_rng(rng)
    if isinstance(rng, np.random.Generator) or type(rng).__module__.split(".")[0] == "cupy":
        return rng
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def device_of(a) -> str:
    return "cpu" if get_array_module(a) is np else "cuda"


def to_device(a, device: str):
    """Copy array ``a`` to ``device`` (returns ``a`` itself when it is already there)."""
    check_device(device)
    if device_of(a) == device:
        return a
    if device == "cpu":
        return a.get()
    return cupy_module().asarray(a)
