"""Reaping: collect every exited child, hand each exit to whoever started that child, and
make sure orphans come to us to be collected.

Whoever starts a child registers its pid with Owners (a program's Process, through the
supervisor; the configuration's reader during a reload; later a health check's command
or a notifier's helper), so reaping needs no knowledge of what each child is for.  A pid
nobody owns (an orphan re-parented to PID 1) is only reported.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Owner(Protocol):
        """Something that started a child and wants to hear of its end."""

        def exited(self, pid: int, status: int) -> None: ...


class Owners:
    """The owner of each child pid not yet reaped; reap() routes every exit to its owner."""

    def __init__(self, unknown: Callable[[int, int], None]) -> None:
        self._unknown = unknown  # unknown(pid, status): a child nobody registered
        self._by_pid: dict[int, Owner] = {}
        self.unknown_reaped = 0  # orphans and other strangers collected (for /metrics)

    def add(self, pid: int, owner: Owner) -> None:
        """owner.exited(pid, status) will be called when pid is reaped."""
        self._by_pid[pid] = owner

    def forget(self, pid: int, owner: Owner) -> None:
        """owner waited for pid itself: drop it, unless pid (reaped, then reused) now
        belongs to someone else."""
        if self._by_pid.get(pid) is owner:
            del self._by_pid[pid]

    def reap(self) -> None:
        """Collect every exited child and tell each one's owner (after a SIGCHLD)."""
        for pid, status in reap_all():
            owner = self._by_pid.pop(pid, None)
            if owner is None:
                self.unknown_reaped += 1
                self._unknown(pid, status)
            else:
                owner.exited(pid, status)


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
