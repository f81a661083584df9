"""Reaping: collect every exited child, and make sure orphans come to us to be collected."""

from __future__ import annotations

import os

from initsup.signals import signal_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def reap_all() -> list[tuple[int, int]]:
    """Collect every child that has exited, as (pid, raw wait status) pairs.

    `waitpid(-1, WNOHANG)` until nothing is left: SIGCHLD coalesces, and orphans that the
    kernel re-parents to us send nothing we could count on, so every wakeup drains it all.
    """
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no children at all
            break
        if pid == 0:
            break
        reaped.append((pid, status))
    return reaped


def exit_code(status: int) -> int:
    """The shell's view of a wait status: the exit code, or 128 + the signal that killed it."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def describe(status: int) -> str:
    """Say in words how a process ended: 'exit status 3' or 'terminated by SIGKILL'."""
    if os.WIFSIGNALED(status):
        core = " (core dumped)" if os.WCOREDUMP(status) else ""
        return f"terminated by {signal_name(os.WTERMSIG(status))}{core}"
    return f"exit status {os.WEXITSTATUS(status)}"


def become_reaper(warn: Callable[[str], None]) -> bool:
    """Ensure orphaned descendants are re-parented to us; warn once if they cannot be.

    PID 1 gets them from the kernel.  Anywhere else (tests, `docker run --init`, a shell)
    initsup registers as a child subreaper; returns whether reaping orphans will work.
    """
    if os.getpid() == 1:
        return True
    try:
        from initsup import linux

        linux.set_child_subreaper()
        return True
    except Exception as exc:  # OSError from prctl, ImportError: an image without ctypes
        warn(
            "initsup is not PID 1 and could not register as a child subreaper "
            f"({exc}): orphaned processes will not be re-parented to initsup, so zombie "
            "reaping won't work for them"
        )
        return False
