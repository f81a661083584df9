"""Reaper helpers: decoding wait statuses, draining, the pid -> owner registry, and the
subreaper fallback warning."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable

import pytest

from initsup import linux, reaper


def test_exit_code_of_normal_exit() -> None:
    """A normal exit's status decodes to its exit code."""
    assert reaper.exit_code(7 << 8) == 7
    assert reaper.exit_code(0) == 0


def test_exit_code_of_signal_death_is_128_plus_signal() -> None:
    """A death by signal N decodes to 128+N, core dump or not."""
    assert reaper.exit_code(15) == 143
    assert reaper.exit_code(9) == 137
    assert reaper.exit_code(11 | 0x80) == 139


def test_describe_in_words() -> None:
    """Statuses are described as supervisord words them."""
    assert reaper.describe(3 << 8) == "exit status 3"
    assert reaper.describe(9) == "terminated by SIGKILL"
    assert reaper.describe(11 | 0x80) == "terminated by SIGSEGV (core dumped)"


def test_reap_all_with_no_children_is_empty() -> None:
    """Draining with no children at all returns nothing instead of raising."""
    assert reaper.reap_all() == []


def test_become_reaper_as_pid1_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """PID 1 reaps orphans by nature: no prctl, no warning."""
    monkeypatch.setattr(os, "getpid", lambda: 1)

    def fail() -> None:
        raise AssertionError("prctl must not be called as PID 1")

    monkeypatch.setattr(linux, "set_child_subreaper", fail)
    warnings: list[str] = []
    assert reaper.become_reaper(warnings.append) is True
    assert warnings == []


def test_become_reaper_warns_once_when_subreaper_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither PID 1 nor a subreaper: one warning saying zombie reaping won't work (A3)."""
    monkeypatch.setattr(os, "getpid", lambda: 4242)

    def refuse() -> None:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(linux, "set_child_subreaper", refuse)
    warnings: list[str] = []
    assert reaper.become_reaper(warnings.append) is False
    assert len(warnings) == 1
    assert "zombie reaping won't work" in warnings[0]
    assert "Invalid argument" in warnings[0]


class _Owner:
    def __init__(self) -> None:
        self.exits: list[tuple[int, int]] = []

    def exited(self, pid: int, status: int) -> None:
        self.exits.append((pid, status))


def _exit_child(code: int) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves at once
        os._exit(code)
    return pid


def _reap_until(owners: reaper.Owners, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        owners.reap()
        time.sleep(0.01)


def test_owners_route_each_exit_to_who_started_it() -> None:
    """Each reaped pid goes to its registered owner; one nobody owns is reported."""
    unknown: list[tuple[int, int]] = []
    owners = reaper.Owners(lambda pid, status: unknown.append((pid, status)))
    first, second = _Owner(), _Owner()
    a, b, stray = _exit_child(3), _exit_child(4), _exit_child(5)
    owners.add(a, first)
    owners.add(b, second)
    _reap_until(owners, lambda: bool(first.exits and second.exits and unknown))
    assert first.exits == [(a, 3 << 8)]
    assert second.exits == [(b, 4 << 8)]
    assert (stray, 5 << 8) in unknown  # (an earlier test's leftover child may be there too)


def test_forget_drops_only_the_owners_own_pid() -> None:
    """An owner that waited itself forgets its pid, but not one since given to another."""
    unknown: list[tuple[int, int]] = []
    owners = reaper.Owners(lambda pid, status: unknown.append((pid, status)))
    mine, other = _Owner(), _Owner()
    pid = _exit_child(0)
    owners.add(pid, other)
    owners.forget(pid, mine)  # not mine (any more): kept
    _reap_until(owners, lambda: bool(other.exits))
    assert other.exits == [(pid, 0)]
    pid = _exit_child(0)
    owners.add(pid, mine)
    owners.forget(pid, mine)
    _reap_until(owners, lambda: (pid, 0) in unknown)
    assert (pid, 0) in unknown
    assert mine.exits == []
