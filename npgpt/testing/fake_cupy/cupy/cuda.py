"""``cupy.cuda`` of the stand-in: one device, nothing to wait for, no NCCL."""

from __future__ import annotations


class runtime:  # noqa: N801  (a module in CuPy)
    @staticmethod
    def getDeviceCount():  # noqa: N802  (CuPy's name)
        return 1


class Device:
    def __init__(self, id=0):  # noqa: A002
        self.id = id

    def synchronize(self):
        pass

    def use(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Stream:
    ptr = 0

    def synchronize(self):
        pass


def get_current_stream():
    return _Stream()
