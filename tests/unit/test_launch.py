"""What a start opens before the fork: every fd closed again on every failure path."""

from __future__ import annotations

import os
import pwd

import pytest

from initsup import launch
from initsup.model import TO_NOWHERE, LogTarget
from initsup.signals import InheritedSignals
from initsup.spawn import Spawner


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_child_fds_close_what_they_opened_when_an_open_fails(
    monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """D4: EMFILE on the second or third pipe left the first ones open (and PID 1 died)."""
    real_pipe, calls = os.pipe, []

    def pipe() -> tuple[int, int]:
        calls.append(1)
        if len(calls) == fail_at:
            raise OSError(24, "Too many open files")
        return real_pipe()

    before = _fds()
    monkeypatch.setattr(os, "pipe", pipe)
    with pytest.raises(OSError, match="Too many open files"):
        launch.ChildFds(LogTarget(), LogTarget(), stdin_pipe=True)
    monkeypatch.undo()
    assert _fds() == before


def test_child_fds_close_all_after_success_leaves_nothing_open() -> None:
    before = _fds()
    fds = launch.ChildFds(LogTarget(), LogTarget(path=TO_NOWHERE), stdin_pipe=False)
    fds.close_child_ends()
    fds.close_all()
    assert _fds() == before


def test_a_failed_fork_leaks_no_report_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """D18: os.fork() failing (no pid left) leaked the report pipe's two fds."""

    def fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    spawner = Spawner(InheritedSignals(frozenset(), frozenset()), frozenset(), frozenset())
    before = _fds()
    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(BlockingIOError):
        spawner.spawn(["/bin/true"], {}, directory="/")
    monkeypatch.undo()
    assert _fds() == before


def test_a_uid_without_passwd_entry_runs_with_gid_0_and_no_groups() -> None:
    """D5: getpwuid failed, so such a uid never started; now it is used as docker does."""
    uid = 54321
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    assert launch.user_ids(str(uid)) == (uid, 0, [])


def test_a_known_user_gets_its_entry_and_groups() -> None:
    root = pwd.getpwnam("root")
    assert launch.user_ids("root") == (0, root.pw_gid, os.getgrouplist("root", root.pw_gid))
    assert launch.user_ids("0") == launch.user_ids("root")
    assert launch.user_ids(None) is None


def test_non_ascii_digits_are_a_name_not_a_crash() -> None:
    """D4: user=² passed str.isdigit() and made int() raise ValueError in PID 1."""
    with pytest.raises(KeyError):
        launch.user_ids("\N{SUPERSCRIPT TWO}")
