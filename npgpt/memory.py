"""Process memory: glibc allocator tuning and resident-set measurements (Linux).

NumPy allocates activations as large blocks; glibc's malloc serves blocks above a threshold
(128 KiB at first) with fresh ``mmap`` calls and returns them to the kernel on ``free``. A training
step frees and re-allocates the same big buffers every step, so every step page-faults them in
again (about 30% of a step measured on a 2-core machine). Raising the mmap and trim thresholds
keeps freed blocks in the heap for reuse. It changes no result, only where memory comes from.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned = False


def tune_malloc(threshold_bytes: int = 1 << 30) -> bool:
    """Keep freed blocks below ``threshold_bytes`` in the heap (glibc only; returns success)."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, min(threshold_bytes, 32 << 20)) and libc.mallopt(
            _M_TRIM_THRESHOLD, threshold_bytes
        )
    except (OSError, AttributeError):
        return False
    _tuned = bool(ok)
    return _tuned


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def reset_peak_rss() -> bool:
    """Start a new peak-RSS measurement from now (Linux: writes 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Largest resident set size since the last ``reset_peak_rss`` (or since the process began)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024
