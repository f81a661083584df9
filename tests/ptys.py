"""A program under a pseudo-terminal of its own, for tests of interactive shells: start it
as the session leader, read what it prints up to a marker (bounded), wait for its exit."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import time
from collections.abc import Iterator

from tests.helpers import kill_tree


@contextlib.contextmanager
def under_pty(args: list[str], environ: dict[str, str]) -> Iterator[tuple[int, int]]:
    """args as the session leader of a new pseudo-terminal: (pid, master fd); killed and
    reaped on leaving."""
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        try:
            os.execve(args[0], args, environ)
        finally:
            os._exit(127)
    try:
        yield pid, master
    finally:
        kill_tree(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        os.close(master)


def read_until(master: int, marker: bytes, timeout: float = 10.0) -> bytes:
    """Everything the terminal shows until marker (or until its other side is gone)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {timeout} s; saw {seen!r}"
        if select.select([master], [], [], remaining)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is gone
                break
    return seen


def exit_code(pid: int, timeout: float = 10.0) -> int:
    """The exit code of pid (a child of this process), within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) % 256
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} did not exit within {timeout} s")
