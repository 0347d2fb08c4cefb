"""Each graded test in its own process, with a time limit: a pytest plugin.

The parent pytest collects once; for each test it forks a child that runs the test's setup, call
and teardown and sends the reports back through a pipe. Whatever the code under test does (loops
forever, calls ``os._exit(0)``, kills the interpreter with a segfault or a stack overflow, changes
global state for the tests after it), only its own test is lost: the parent reports it failed,
says why, and goes on to the next, so the table and ``results.json`` are always written.

Where ``os.fork`` does not exist (Windows) the tests run in-process, without a time limit.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time

import pytest
from _pytest.runner import runtestprotocol


class Boxed:
    """The plugin: ``pytest.main(args, plugins=[Boxed(time_limit=60)])``."""

    def __init__(self, time_limit: float):
        self.time_limit = float(time_limit)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if not hasattr(os, "fork"):
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self._run(item):
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _run(self, item) -> list:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run the test, send its reports, leave without cleaning up
            os.close(read_end)
            signal.alarm(int(self.time_limit) + 2)  # a backstop: ends the child even if the parent is gone
            code = 0
            try:
                reports = runtestprotocol(item, log=False, nextitem=None)
                hook = item.config.hook
                data = [hook.pytest_report_to_serializable(config=item.config, report=r) for r in reports]
                payload = json.dumps(data).encode()
                with os.fdopen(write_end, "wb") as out:
                    out.write(payload)
            except BaseException:  # noqa: BLE001 - the child must never return into pytest
                code = 1
            os._exit(code)
        os.close(write_end)
        payload, why = self._collect(read_end, pid)
        if why is None:
            try:
                data = json.loads(payload)
                hook = item.config.hook
                return [hook.pytest_report_from_serializable(config=item.config, data=d) for d in data]
            except ValueError:
                why = "the test process sent back no readable report"
        return [_failed(item, why)]

    def _collect(self, fd: int, pid: int) -> tuple[bytes, str | None]:
        """Read the child's reports until it closes the pipe; kill it at the time limit."""
        chunks, deadline = [], time.monotonic() + self.time_limit
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    return b"", (
                        f"stopped after {self.time_limit:g} s: the code under test did not finish "
                        "(an infinite loop, or far too slow). This test scores zero."
                    )
                ready, _, _ = select.select([fd], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        payload = b"".join(chunks)
        if os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            return b"", f"the test process was killed by {sig} (the interpreter crashed). This test scores zero."
        if not payload:
            code = os.WEXITSTATUS(status)
            return b"", (
                f"the test process exited (status {code}) before the test finished: the code under test "
                "ended the interpreter (os._exit, sys.exit or a fatal error). This test scores zero."
            )
        return payload, None


def _failed(item, why: str):
    """A failed "call" report for a test whose process never reported."""
    return pytest.TestReport(
        item.nodeid,
        item.location,
        {k: 1 for k in item.keywords},
        "failed",
        f"Failed: {why}",
        "call",
    )
